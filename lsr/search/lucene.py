"""Lucene searching through pyjnius: one JNI call per query, text in and hits out, whatever ``k`` is.

Anserini's ``SimpleSearcher``/``SimpleImpactSearcher`` return one ``ScoredDoc`` Java object per hit
and take an impact query as a ``java.util.HashMap`` filled one ``put`` at a time: through pyjnius each
of those is a JNI call. They also sort hits by score *and* collection id, a field sort under which
Lucene scores every matching document. Here (``lsr/search/java``, built into ``lsr-lucene.jar``):

- query: built in Java from the text. BM25 (``BagOfWords``): Anserini's bag of words through its
  default analyzer. Inference-free with a BERT WordPiece tokenizer (``WordPiece`` + ``TableQueries``):
  tokenized, weighted from the table, quantised and pruned as lsr's Python path does. Any other
  impact query (a model's) is encoded in Python and crosses as one string of terms and one ``float[]``;
- search: ``TopKSearcher`` keeps the top ``k`` under Anserini's order (score, then collection id)
  with ``ScoreMode.TOP_SCORES``, so Lucene's block-max WAND/MaxScore skips documents that cannot
  make the top ``k``; the collection ids are read once per index from the ``id`` doc values;
- hits: Anserini's score rounding and tie adjustment, read back as a ``String[]`` and a ``float[]``.

Results are identical to Anserini's searchers (tests check hits, order and scores).
"""

from __future__ import annotations

import json
from functools import lru_cache, partial
from pathlib import Path

from lsr.errors import LsrError
from lsr.java import jclass
from lsr.search.searcher import Hit

CONTENTS = "contents"
ID = "id"
LUCENE = "org/apache/lucene"  # Lucene's package path in JNI signatures
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

    jclass("java.lang.Object")  # starts the JVM (importing jnius first would start it without lsr's classpath)
    from jnius import JavaClass, JavaField, JavaMethod, JavaStaticMethod, MetaJavaClass

    class FSDirectory(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/store/FSDirectory"
        open = JavaStaticMethod(f"(Ljava/nio/file/Path;)L{LUCENE}/store/FSDirectory;")

    class DirectoryReader(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/index/DirectoryReader"
        open = JavaStaticMethod(f"(L{LUCENE}/store/Directory;)L{LUCENE}/index/DirectoryReader;")
        numDocs = JavaMethod("()I")
        close = JavaMethod("()V")

    class Query(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/search/Query"

    class IndexSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/search/IndexSearcher"
        __javaconstructor__ = [(f"(L{LUCENE}/index/IndexReader;)V", False)]
        setSimilarity = JavaMethod(f"(L{LUCENE}/search/similarities/Similarity;)V")

    class BagOfWords(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/BagOfWords"
        __javaconstructor__ = [(f"(L{LUCENE}/analysis/Analyzer;)V", False)]
        terms = JavaStaticMethod(f"(L{LUCENE}/analysis/Analyzer;Ljava/lang/String;)Ljava/lang/String;")

    class WordPiece(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/WordPiece"
        __javaconstructor__ = [("(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;IZZZZ)V", False)]
        tokens = JavaMethod("(Ljava/lang/String;)[Ljava/lang/String;")

    class Weighted(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TableQueries$Weighted"
        terms = JavaField("[Ljava/lang/String;")
        weights = JavaField("[F")

    class TableQueries(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TableQueries"
        __javaconstructor__ = [("(Llsr/lucene/WordPiece;Ljava/lang/String;Ljava/lang/String;[DDIID)V", False),
                               (f"(Llsr/lucene/WordPiece;Ljava/lang/String;Ljava/lang/String;[DDIIDL{LUCENE}/analysis/Analyzer;Ljava/lang/String;[D)V", False)]
        encode = JavaMethod("(Ljava/lang/String;)Llsr/lucene/TableQueries$Weighted;")

    class Hits(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TopKSearcher$Hits"
        __javaconstructor__ = [("([Ljava/lang/String;[F)V", False)]
        docids = JavaField("[Ljava/lang/String;")
        scores = JavaField("[F")
        joinedDocids = JavaMethod("(Ljava/lang/String;)Ljava/lang/String;")

    return SimpleNamespace(**{name: value for name, value in locals().items() if isinstance(value, type)})


def _top_k_searcher(searcher):
    """lsr's Java ``TopKSearcher`` over ``searcher``, as an instance of a pyjnius class of its own.

    pyjnius binds an instance method by writing the instance into the method object, which a class
    shares between all its instances (``JavaMethod.__get__``, a known "XXX FIXME" in pyjnius 1.9). A
    bound method kept for later, or a call whose arguments are still being evaluated when another
    thread touches the same method, would run on whichever instance touched it last: with two indexes
    open in one process, the first one's queries would run on the second. A class per index gives each
    index method objects of its own (``tests/test_index_search.py`` opens several indexes together,
    from two threads, and checks that each searches its own).
    """
    _declared()  # starts the JVM with lsr's classpath
    from jnius import JavaClass, JavaMethod, JavaMultipleMethod, MetaJavaClass

    class TopKSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TopKSearcher"
        __javaconstructor__ = [(f"(L{LUCENE}/search/IndexSearcher;Ljava/lang/String;)V", False)]
        search = JavaMultipleMethod([
            (f"(L{LUCENE}/search/Query;I)Llsr/lucene/TopKSearcher$Hits;", False, False),
            ("(Llsr/lucene/TextQueries;Ljava/lang/String;Ljava/lang/String;I)Llsr/lucene/TopKSearcher$Hits;", False, False)])
        weightedQuery = JavaMethod(f"(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;[F)L{LUCENE}/search/Query;")
        twoPhase = JavaMultipleMethod([
            ("(Llsr/lucene/TableQueries;Ljava/lang/String;Ljava/lang/String;IDD)Llsr/lucene/TopKSearcher$Hits;", False, False),
            ("(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;[FIDD)Llsr/lucene/TopKSearcher$Hits;", False, False)])
        frequentTerms = JavaMethod("(Ljava/lang/String;DLjava/lang/String;)Ljava/lang/String;")

    return TopKSearcher(searcher, ID)


class LuceneIndex:
    """An open Lucene index: build queries, search, get ``[(docid, score), ...]`` back."""

    def __init__(self, lucene_dir: str | Path, similarity):
        java = _declared()
        self._reader = java.DirectoryReader.open(java.FSDirectory.open(jclass("java.io.File")(str(lucene_dir)).toPath()))
        self._searcher = java.IndexSearcher(self._reader)
        self._searcher.setSimilarity(similarity)
        self._top_k = _top_k_searcher(self._searcher)
        self._search = self._top_k.search
        self._weighted_query = self._top_k.weightedQuery

    @property
    def num_docs(self) -> int:
        """Documents in the index."""
        return self._reader.numDocs()

    @staticmethod
    def bag_of_words():
        """BM25's query builder: Anserini's bag of words through its default (English, Porter) analyzer."""
        return _declared().BagOfWords(jclass("io.anserini.index.IndexCollection").DEFAULT_ANALYZER)

    def frequent_terms(self, max_fraction: float) -> frozenset[str]:
        """The terms found in more than ``max_fraction`` of the index's documents."""
        joined = self._top_k.frequentTerms(CONTENTS, float(max_fraction), SEP)
        return frozenset(joined.split(SEP)) if joined else frozenset()

    def weighted_query(self, weights: dict[str, int | float]):
        """A query of boosted terms ``{term: weight}`` (one JNI call for the whole query)."""
        return self._weighted_query(CONTENTS, _joined(weights, "query term"), SEP, [float(w) for w in weights.values()])

    def search(self, query, k: int) -> list[Hit]:
        """The top ``k`` (docid, score) of a prepared query, best first, ties broken by docid as Anserini does."""
        return self._hits(self._search(query, k))

    def search_text(self, queries, text: str, k: int) -> list[Hit]:
        """:meth:`search` for the query that ``queries`` (:meth:`bag_of_words`, :func:`table_queries`) builds from ``text``."""
        return self._hits(self._search(queries, CONTENTS, text, k))

    def two_phase(self, weights: dict[str, int | float], k: int, ratio: float, expansion: float) -> list[Hit]:
        """Two-phase search (``TopKSearcher.twoPhase``): the terms weighing at least ``ratio`` x the heaviest
        find ``expansion`` x ``k`` candidates, which the other terms then rescore."""
        return self._hits(self._top_k.twoPhase(CONTENTS, _joined(weights, "query term"), SEP, [float(w) for w in weights.values()],
                                               k, float(ratio), float(expansion)))

    def two_phase_text(self, queries, text: str, k: int, ratio: float, expansion: float) -> list[Hit]:
        """:meth:`two_phase` for the query that ``queries`` (:func:`table_queries`) weighs for ``text``."""
        return self._hits(self._top_k.twoPhase(queries, CONTENTS, text, k, float(ratio), float(expansion)))

    @staticmethod
    def _hits(hits) -> list[Hit]:
        scores = hits.scores
        docids = hits.joinedDocids(SEP).split(SEP) if scores else []  # one JNI string, not one per hit
        if len(docids) != len(scores):  # an id holding the separator: take the array
            docids = hits.docids
        return list(map(_new_hit, zip(docids, scores)))

    def close(self) -> None:
        """Close the index reader."""
        self._reader.close()


_new_hit = partial(tuple.__new__, Hit)  # Hit((docid, score)) in C: a third of Hit(docid, score)'s cost, felt at k=1000


def _joined(tokens, what: str = "token") -> str:
    """``tokens`` joined by :data:`SEP` for one JNI string, refusing a token that contains it."""
    tokens = list(tokens)
    if any(SEP in token for token in tokens):
        raise LsrError(f"{what} contains the separator U+0001: {next(t for t in tokens if SEP in t)!r}")
    return SEP.join(tokens)


def _english_analyzer():
    return jclass("io.anserini.analysis.DefaultEnglishAnalyzer").newDefaultInstance()


def english_terms():
    """A function text -> the terms of Anserini's default English analyzer (its BM25 indexes' analysis), in order."""
    declared, analyzer = _declared(), _english_analyzer()
    return lambda text: declared.BagOfWords.terms(analyzer, text).split()


def wordpiece(tokenizer_json: str):
    """lsr's Java ``WordPiece`` for a BERT tokenizer (``tokenizer.json`` text), or None for any other kind.

    BERT means a ``BertNormalizer``, a ``BertPreTokenizer``, a ``WordPiece`` model and added tokens
    matched on the raw text (as BERT's special tokens are); other tokenizers stay in Python.
    """
    spec = json.loads(tokenizer_json)
    normalizer, pre_tokenizer, model = (spec.get(key) or {} for key in ("normalizer", "pre_tokenizer", "model"))
    added = spec.get("added_tokens") or []
    if (normalizer.get("type"), pre_tokenizer.get("type"), model.get("type")) != ("BertNormalizer", "BertPreTokenizer", "WordPiece") or any(
        token.get("normalized") or token.get("single_word") or token.get("lstrip") or token.get("rstrip") for token in added
    ):
        return None
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    return _declared().WordPiece(
        _joined(model["vocab"]), _joined(token["content"] for token in added), SEP,
        model.get("unk_token", "[UNK]"), model.get("continuing_subword_prefix", "##"), int(model.get("max_input_chars_per_word", 100)),
        bool(normalizer.get("clean_text", True)), bool(normalizer.get("handle_chinese_chars", True)),
        lowercase if strip_accents is None else bool(strip_accents), lowercase,
    )


def table_queries(tokenizer_json: str, weights: dict[str, float], scale: float, max_tokens: int, top_k: int | None, min_ratio: float,
                  lexical_idf: dict[str, float] | None = None):
    """lsr's Java ``TableQueries`` (tokenize, weight, quantise, prune in one call), or None when the tokenizer is not BERT's.

    ``lexical_idf``: the idf table of the index's BM25 channel (:mod:`lsr.encoders.lexical`), whose terms the query then adds.
    """
    tokenizer = wordpiece(tokenizer_json)
    if tokenizer is None:
        return None
    args = (tokenizer, _joined(weights), SEP, [float(w) for w in weights.values()], float(scale), int(max_tokens), int(top_k or 0), float(min_ratio))
    if lexical_idf is not None:
        args += (_english_analyzer(), _joined(lexical_idf), [float(w) for w in lexical_idf.values()])
    return _declared().TableQueries(*args)
