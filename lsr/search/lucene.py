"""Lucene searching through pyjnius with few JNI crossings per query, whatever ``k`` is.

Anserini's ``SimpleSearcher``/``SimpleImpactSearcher`` return one ``ScoredDoc`` Java object per hit
and take an impact query as a ``java.util.HashMap`` filled one ``put`` at a time: through pyjnius each
of those is a JNI call. They also sort hits by score *and* collection id, a field sort under which
Lucene scores every matching document. Here:

- query: Anserini's ``BagOfWordsQueryGenerator`` for BM25 (its analyzer on the text, one call); an
  impact query is built by lsr's helper from one string of terms and one ``float[]`` of weights;
- search: lsr's ``TopKSearcher`` (``lsr/search/java/TopKSearcher.java``, in ``lsr-lucene.jar``) keeps
  the top ``k`` under Anserini's order (score, then collection id) with ``ScoreMode.TOP_SCORES``, so
  Lucene's block-max WAND/MaxScore skips documents that cannot make the top ``k``; the collection ids
  are read once per index from the ``id`` doc values;
- hits: Anserini's score rounding and tie adjustment, read back as a ``String[]`` and a ``float[]``.

Results are identical to Anserini's searchers (tests check hits, order and scores).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lsr.errors import LsrError
from lsr.java import jclass

CONTENTS = "contents"
ID = "id"
SEP = "\u0001"  # between the terms of an impact query: never inside a term, not whitespace for Java


def bm25_similarity(k1: float, b: float):
    """Lucene's BM25 similarity (what Anserini's ``set_bm25`` uses)."""
    return jclass("org.apache.lucene.search.similarities.BM25Similarity")(float(k1), float(b))


def impact_similarity():
    """Anserini's impact similarity: score = sum over query terms of boost x stored impact."""
    return jclass("io.anserini.search.similarity.ImpactSimilarity")()


@lru_cache(maxsize=1)
def _declared():
    """Thin pyjnius declarations of the few Java methods used per query.

    ``jnius.autoclass`` reflects over every method of a class and its ancestors, which costs
    hundreds of milliseconds for IndexSearcher or Jackson's ObjectMapper at start-up; declaring the
    signatures used here skips that (and picks the right overloads, which pyjnius may not). Only
    Lucene, Anserini and Jackson classes are declared: ``jclass`` returns a declared class too, so a
    JDK class declared here would lose its other methods for every caller in the process.
    """
    from types import SimpleNamespace

    from jnius import JavaClass, JavaField, JavaMethod, JavaMultipleMethod, JavaStaticMethod, MetaJavaClass

    jclass("java.lang.Object")  # starts the JVM
    lucene = "org/apache/lucene"

    class FSDirectory(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/store/FSDirectory"
        open = JavaStaticMethod(f"(Ljava/nio/file/Path;)L{lucene}/store/FSDirectory;")

    class DirectoryReader(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/index/DirectoryReader"
        open = JavaStaticMethod(f"(L{lucene}/store/Directory;)L{lucene}/index/DirectoryReader;")
        numDocs = JavaMethod("()I")
        close = JavaMethod("()V")

    class Query(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/Query"

    class IndexSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/IndexSearcher"
        __javaconstructor__ = [(f"(L{lucene}/index/IndexReader;)V", False)]
        setSimilarity = JavaMethod(f"(L{lucene}/search/similarities/Similarity;)V")

    class QueryGenerator(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "io/anserini/search/query/BagOfWordsQueryGenerator"
        __javaconstructor__ = [("()V", False)]
        buildQuery = JavaMultipleMethod([
            (f"(Ljava/lang/String;L{lucene}/analysis/Analyzer;Ljava/lang/String;)L{lucene}/search/Query;", False, False)])

    class Hits(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TopKSearcher$Hits"
        docids = JavaField("[Ljava/lang/String;")
        scores = JavaField("[F")

    class TopKSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TopKSearcher"
        __javaconstructor__ = [(f"(L{lucene}/search/IndexSearcher;Ljava/lang/String;)V", False)]
        search = JavaMethod(f"(L{lucene}/search/Query;I)Llsr/lucene/TopKSearcher$Hits;")
        weightedQuery = JavaMethod(f"(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;[F)L{lucene}/search/Query;")

    return SimpleNamespace(**{name: value for name, value in locals().items() if isinstance(value, type)})


class LuceneIndex:
    """An open Lucene index: build queries, search, get ``[(docid, score), ...]`` back."""

    def __init__(self, lucene_dir: str | Path, similarity):
        java = _declared()
        self._reader = java.DirectoryReader.open(java.FSDirectory.open(jclass("java.io.File")(str(lucene_dir)).toPath()))
        self._searcher = java.IndexSearcher(self._reader)
        self._searcher.setSimilarity(similarity)
        self._generator = java.QueryGenerator()
        self._top_k = java.TopKSearcher(self._searcher, ID)
        self._weighted_query = self._top_k.weightedQuery
        self._analyzer = None

    @property
    def num_docs(self) -> int:
        """Documents in the index."""
        return self._reader.numDocs()

    def text_query(self, text: str):
        """A bag-of-words query from text through Anserini's default (English, Porter) analyzer, as BM25 uses."""
        if self._analyzer is None:
            self._analyzer = jclass("io.anserini.index.IndexCollection").DEFAULT_ANALYZER
        return self._generator.buildQuery(CONTENTS, self._analyzer, text)

    def weighted_query(self, weights: dict[str, int | float]):
        """A query of boosted terms ``{term: weight}`` (one JNI call for the whole query)."""
        if any(SEP in term for term in weights):
            raise LsrError(f"query term contains the separator U+0001: {next(t for t in weights if SEP in t)!r}")
        return self._weighted_query(CONTENTS, SEP.join(weights), SEP, [float(w) for w in weights.values()])

    def search(self, query, k: int) -> list[tuple[str, float]]:
        """The top ``k`` (docid, score) of a prepared query, best first, ties broken by docid as Anserini does."""
        hits = self._top_k.search(query, k)
        return list(zip(hits.docids, hits.scores))

    def close(self) -> None:
        """Close the index reader."""
        self._reader.close()
