"""Lucene searching through pyjnius with few JNI crossings per query, whatever ``k`` is.

Anserini's ``SimpleSearcher``/``SimpleImpactSearcher`` return one ``ScoredDoc`` Java object per hit,
and an impact query must be handed over as a ``java.util.HashMap`` filled one ``put`` at a time:
through pyjnius each of those is a JNI call (measured: ~0.5 ms per inference-free query for the map,
most of the time at k=1000 for the hits). Here the same Lucene/Anserini pieces are driven directly:

- query: Anserini's ``BagOfWordsQueryGenerator`` (BM25: its analyzer on the text; impacts: a
  ``{term: weight}`` map that Jackson parses from one JSON string in a single call);
- search: ``IndexSearcher.search(query, k, sort by score then docid)``, as Anserini does;
- hits: ``ScoredDocs.fromTopDocs`` and Anserini's ``ScoreTiesAdjusterReranker`` (the same score
  rounding and tie adjustment as Anserini's searchers), read back as a ``String[]`` and a ``float[]``.

Results are identical to Anserini's searchers (tests check it); only the crossings differ.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from lsr.java import jclass

CONTENTS = "contents"


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

    from jnius import JavaClass, JavaField, JavaMethod, JavaMultipleMethod, JavaStaticField, JavaStaticMethod, MetaJavaClass

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

    class TopFieldDocs(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/TopFieldDocs"

    class Query(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/Query"

    class IndexSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/IndexSearcher"
        __javaconstructor__ = [(f"(L{lucene}/index/IndexReader;)V", False)]
        setSimilarity = JavaMethod(f"(L{lucene}/search/similarities/Similarity;)V")
        search = JavaMultipleMethod([(f"(L{lucene}/search/Query;IL{lucene}/search/Sort;Z)L{lucene}/search/TopFieldDocs;", False, False)])

    class SortFieldType(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/SortField$Type"
        STRING_VAL = JavaStaticField(f"L{lucene}/search/SortField$Type;")

    class SortField(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/SortField"
        __javaconstructor__ = [(f"(Ljava/lang/String;L{lucene}/search/SortField$Type;)V", False)]
        FIELD_SCORE = JavaStaticField(f"L{lucene}/search/SortField;")

    class Sort(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{lucene}/search/Sort"
        __javaconstructor__ = [(f"([L{lucene}/search/SortField;)V", False)]

    class QueryGenerator(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "io/anserini/search/query/BagOfWordsQueryGenerator"
        __javaconstructor__ = [("()V", False)]
        buildQuery = JavaMultipleMethod([
            (f"(Ljava/lang/String;L{lucene}/analysis/Analyzer;Ljava/lang/String;)L{lucene}/search/Query;", False, False),
            (f"(Ljava/lang/String;Ljava/util/Map;)L{lucene}/search/Query;", False, False)])

    class ScoredDocs(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "io/anserini/search/ScoredDocs"
        fromTopDocs = JavaStaticMethod(f"(L{lucene}/search/TopDocs;L{lucene}/search/IndexSearcher;)Lio/anserini/search/ScoredDocs;")
        docids = JavaField("[Ljava/lang/String;")
        scores = JavaField("[F")

    class TiesAdjuster(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "io/anserini/rerank/lib/ScoreTiesAdjusterReranker"
        __javaconstructor__ = [("()V", False)]
        rerank = JavaMethod("(Lio/anserini/search/ScoredDocs;Lio/anserini/rerank/RerankerContext;)Lio/anserini/search/ScoredDocs;")

    class JavaType(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "com/fasterxml/jackson/databind/JavaType"

    class MapType(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "com/fasterxml/jackson/databind/type/MapType"

    class TypeFactory(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "com/fasterxml/jackson/databind/type/TypeFactory"
        constructMapType = JavaMultipleMethod([("(Ljava/lang/Class;Ljava/lang/Class;Ljava/lang/Class;)Lcom/fasterxml/jackson/databind/type/MapType;", False, False)])

    class ObjectReader(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "com/fasterxml/jackson/databind/ObjectReader"
        readValue = JavaMultipleMethod([("(Ljava/lang/String;)Ljava/lang/Object;", False, False)])

    class ObjectMapper(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "com/fasterxml/jackson/databind/ObjectMapper"
        __javaconstructor__ = [("()V", False)]
        getTypeFactory = JavaMethod("()Lcom/fasterxml/jackson/databind/type/TypeFactory;")
        readerFor = JavaMultipleMethod([("(Lcom/fasterxml/jackson/databind/JavaType;)Lcom/fasterxml/jackson/databind/ObjectReader;", False, False)])

    return SimpleNamespace(**{name: value for name, value in locals().items() if isinstance(value, type)})


@lru_cache(maxsize=1)
def _float_map_reader():
    """A Jackson reader from JSON text to ``HashMap<String, Float>`` (what the query generator expects)."""
    java = _declared()
    klass = jclass("java.lang.Class")
    map_type = java.ObjectMapper().getTypeFactory().constructMapType(
        klass.forName("java.util.HashMap"), klass.forName("java.lang.String"), klass.forName("java.lang.Float"))
    return java.ObjectMapper().readerFor(map_type)


@lru_cache(maxsize=1)
def _tie_break_sort():
    java = _declared()
    return java.Sort([java.SortField.FIELD_SCORE, java.SortField("id", java.SortFieldType.STRING_VAL)])


class LuceneIndex:
    """An open Lucene index: build queries, search, get ``[(docid, score), ...]`` back."""

    def __init__(self, lucene_dir: str | Path, similarity):
        java = _declared()
        self._reader = java.DirectoryReader.open(java.FSDirectory.open(jclass("java.io.File")(str(lucene_dir)).toPath()))
        self._searcher = java.IndexSearcher(self._reader)
        self._searcher.setSimilarity(similarity)
        self._generator = java.QueryGenerator()
        self._sort = _tie_break_sort()
        self._scored_docs = java.ScoredDocs
        self._ties = java.TiesAdjuster()
        self._map = jclass("java.util.Map")
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
        """A query of boosted terms ``{term: weight}`` (one JNI call for the whole map)."""
        from jnius import cast

        parsed = _float_map_reader().readValue(json.dumps(weights, ensure_ascii=False))
        return self._generator.buildQuery(CONTENTS, cast(self._map, parsed))

    def search(self, query, k: int) -> list[tuple[str, float]]:
        """The top ``k`` (docid, score) of a prepared query, best first, ties broken by docid as Anserini does."""
        top = self._searcher.search(query, k, self._sort, True)
        docs = self._scored_docs.fromTopDocs(top, self._searcher)
        self._ties.rerank(docs, None)
        return list(zip(docs.docids, docs.scores))

    def close(self) -> None:
        """Close the index reader."""
        self._reader.close()
