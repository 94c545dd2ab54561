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

import bisect
import json
import logging
import threading
from functools import lru_cache, partial
from pathlib import Path
from typing import Iterable, Sequence

from lsr.errors import LsrError
from lsr.index.check import damaged
from lsr.jvm import MAX_QUERY_CLAUSES, jclass
from lsr.jvm.classes import LUCENE, declared, english_analyzer, english_terms
from lsr.types import Hit

CONTENTS = "contents"
ID = "id"
SEP = "\u0001"  # between the terms of an impact query: never inside a term, not whitespace for Java
_EXPLAINING = threading.Lock()
"""One explanation at a time in a process: pyjnius binds a Java method by writing the instance into a method object that every
instance of the class shares (see :func:`_top_k_searcher`), and an explanation walks many objects of shared classes
(``Explanation``, ``TopDocs``, the declared ``IndexSearcher``), which two threads would race on and crash the process."""
MAX_K = 2**31 - 1
"""The largest ``k`` a Java ``int`` holds: a larger one is sent as this (the helper keeps at most the index's documents anyway)."""

log = logging.getLogger(__name__)


def bm25_similarity(k1: float, b: float):
    """Lucene's BM25 similarity (what Anserini's ``set_bm25`` uses)."""
    return jclass("org.apache.lucene.search.similarities.BM25Similarity")(float(k1), float(b))


def impact_similarity():
    """Anserini's impact similarity: score = sum over query terms of boost x stored impact."""
    return jclass("io.anserini.search.similarity.ImpactSimilarity")()


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
    declared()  # starts the JVM with lsr's classpath
    from jnius import JavaClass, JavaMethod, JavaMultipleMethod, MetaJavaClass

    class TopKSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TopKSearcher"
        __javaconstructor__ = [(f"(L{LUCENE}/search/IndexSearcher;Ljava/lang/String;)V", False)]
        search = JavaMultipleMethod([
            (f"(L{LUCENE}/search/Query;I)Llsr/lucene/TopKSearcher$Hits;", False, False),
            ("(Llsr/lucene/TextQueries;Ljava/lang/String;Ljava/lang/String;I)Llsr/lucene/TopKSearcher$Hits;", False, False)])
        weightedQuery = JavaMethod(f"(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;[F)L{LUCENE}/search/Query;")
        twoPhase = JavaMultipleMethod([
            ("(Llsr/lucene/TableQueries;Ljava/lang/String;Ljava/lang/String;IDDD)Llsr/lucene/TopKSearcher$Hits;", False, False),
            ("(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;[FIDDD)Llsr/lucene/TopKSearcher$Hits;", False, False)])
        frequentTerms = JavaMethod("(Ljava/lang/String;DLjava/lang/String;)Ljava/lang/String;")

    return TopKSearcher(searcher, ID)


def open_reader(lucene_dir: str | Path):
    """A Lucene ``DirectoryReader`` over ``lucene_dir``; a folder Lucene cannot read (missing, truncated or stray segment
    files) is an LsrError naming the index and Lucene's reason."""
    java = declared()  # starts the JVM: importing jnius first would start one without lsr's Java and classpath
    from jnius import JavaException

    try:
        return java.DirectoryReader.open(java.FSDirectory.open(jclass("java.io.File")(_java_path(lucene_dir)).toPath()))
    except JavaException as error:
        reason = f"{(error.classname or 'Java error').rpartition('.')[2]}: {error.innermessage or ''}".strip().replace("\n", " ")
        raise damaged(Path(lucene_dir).parent, f"Lucene cannot read {Path(lucene_dir).name}/ ({reason})") from None


def _java_path(path: str | Path) -> str:
    """``path`` made absolute here: Java resolves a relative path against the folder the process started in, not the current one."""
    return str(Path(path).absolute())


def check_readable(lucene_dir: str | Path) -> None:
    """LsrError (:func:`open_reader`'s) unless Lucene opens ``lucene_dir``; the reader is closed again."""
    open_reader(lucene_dir).close()


class LuceneIndex:
    """An open Lucene index: build queries, search, get ``[(docid, score), ...]`` back."""

    def __init__(self, lucene_dir: str | Path, similarity):
        java = declared()
        self._reader = open_reader(lucene_dir)
        self._searcher = java.IndexSearcher(self._reader)
        self._searcher.setSimilarity(similarity)
        self._top_k = _top_k_searcher(self._searcher)
        self._search = self._top_k.search
        self._weighted_query = self._top_k.weightedQuery
        self._lucene_dir = Path(lucene_dir)
        self.closed = False

    @property
    def num_docs(self) -> int:
        """Documents in the index."""
        return self._reader.numDocs()

    @staticmethod
    def bag_of_words():
        """BM25's query builder: Anserini's bag of words through its default (English, Porter) analyzer."""
        return declared().BagOfWords(jclass("io.anserini.index.IndexCollection").DEFAULT_ANALYZER)

    def frequent_terms(self, max_fraction: float) -> frozenset[str]:
        """The terms found in more than ``max_fraction`` of the index's documents."""
        joined = self._top_k.frequentTerms(CONTENTS, float(max_fraction), SEP)
        return frozenset(joined.split(SEP)) if joined else frozenset()

    def weighted_query(self, weights: dict[str, int | float]):
        """A query of boosted terms ``{term: weight}`` (one JNI call for the whole query)."""
        weights = within_term_limit(weights)
        return self._weighted_query(CONTENTS, _joined(weights, "query term"), SEP, [float(w) for w in weights.values()])

    def search(self, query, k: int) -> list[Hit]:
        """The top ``k`` (docid, score) of a prepared query, best first, ties broken by docid as Anserini does."""
        return self._hits(self._search(query, min(k, MAX_K)))

    def search_text(self, queries, text: str, k: int) -> list[Hit]:
        """:meth:`search` for the query that ``queries`` (:meth:`bag_of_words`, :func:`table_queries`) builds from ``text``."""
        return self._hits(self._search(queries, CONTENTS, within_clause_limit(text), min(k, MAX_K)))

    def two_phase(self, weights: dict[str, int | float], k: int, ratio: float, expansion: float, whole_share: float) -> list[Hit]:
        """Two-phase search (``TopKSearcher.twoPhase``): the terms weighing at least ``ratio`` x the heaviest
        find ``expansion`` x ``k`` candidates, which the other terms then rescore; where those candidates would be
        more than ``whole_share`` of the documents (1: never), one search of every term instead."""
        return self._hits(self._top_k.twoPhase(CONTENTS, _joined(weights, "query term"), SEP, [float(w) for w in weights.values()],
                                               min(k, MAX_K), float(ratio), float(expansion), float(whole_share)))

    def two_phase_text(self, queries, text: str, k: int, ratio: float, expansion: float, whole_share: float) -> list[Hit]:
        """:meth:`two_phase` for the query that ``queries`` (:func:`table_queries`) weighs for ``text``."""
        return self._hits(self._top_k.twoPhase(queries, CONTENTS, within_clause_limit(text), min(k, MAX_K), float(ratio), float(expansion),
                                               float(whole_share)))

    def text_query(self, queries, text: str):
        """The Java query that ``queries`` (:meth:`bag_of_words`, :func:`table_queries`) builds from ``text``, as :meth:`search_text` runs it."""
        return queries.query(self._top_k, CONTENTS, within_clause_limit(text))

    def explain(self, query, docid: str, query_weights: dict[str, float] | None = None) -> list:
        """The matching terms (:class:`lsr.search.explain.TermMatch`) of document ``docid`` for a prepared query, from Lucene's
        ``IndexSearcher.explain``; none for a document the index does not hold. ``query_weights``: an impact query's boosts."""
        from lsr.search.explain import term_matches

        with _EXPLAINING:
            found = self._searcher.search(jclass("org.apache.lucene.search.TermQuery")(jclass("org.apache.lucene.index.Term")(ID, docid)), 1)
            if not found.scoreDocs:
                return []
            return term_matches(self._searcher.explain(query, found.scoreDocs[0].doc), query_weights)

    @staticmethod
    def _hits(hits) -> list[Hit]:
        scores = hits.scores
        docids = hits.joinedDocids(SEP).split(SEP) if scores else []  # one JNI string, not one per hit
        if len(docids) != len(scores):  # an id holding the separator: take the array
            docids = hits.docids
        return list(map(_new_hit, zip(docids, scores)))

    def ensure_open(self) -> None:
        """An LsrError if :meth:`close` was called (Lucene's own error would be a Java stack trace)."""
        if self.closed:
            raise LsrError(f"the searcher of {self._lucene_dir.parent} is closed: open the index again (Searcher.open)")

    def close(self) -> None:
        """Close the index reader (again: nothing)."""
        if not self.closed:
            self.closed = True
            self._reader.close()


_new_hit = partial(tuple.__new__, Hit)  # Hit((docid, score)) in C: a third of Hit(docid, score)'s cost, felt at k=1000


def within_term_limit(weights: dict[str, int | float]) -> dict[str, int | float]:
    """``weights``, or its :data:`MAX_QUERY_CLAUSES` heaviest terms (with a warning) when it has more: Lucene's bound on a query."""
    if len(weights) <= MAX_QUERY_CLAUSES:
        return weights
    log.warning("a query of %d terms is cut to its %d heaviest (Lucene's limit on the clauses of one query)", len(weights), MAX_QUERY_CLAUSES)
    return dict(sorted(weights.items(), key=lambda item: -item[1])[:MAX_QUERY_CLAUSES])


def within_clause_limit(text: str) -> str:
    """``text``, or (with a warning) its longest prefix of whole words whose analysed terms are at most :data:`MAX_QUERY_CLAUSES` distinct.

    A BM25 query (or an impact index's BM25 channel) has a clause per distinct term of Anserini's English analysis; Lucene
    refuses more than :data:`MAX_QUERY_CLAUSES`. A text of no more characters than that has no more terms, and is not analysed here.
    """
    if len(text) <= MAX_QUERY_CLAUSES:
        return text
    words = text.split()

    def distinct(n: int) -> int:  # distinct terms of the first n words: grows with n
        return len(set(_english_terms()(" ".join(words[:n]))))

    if distinct(len(words)) <= MAX_QUERY_CLAUSES:
        return text
    kept = bisect.bisect_right(range(len(words) + 1), MAX_QUERY_CLAUSES, key=distinct) - 1
    log.warning("a query of %d words is cut to its first %d: more distinct terms than Lucene's limit on the clauses of one query (%d)",
                len(words), kept, MAX_QUERY_CLAUSES)
    return " ".join(words[:kept])


@lru_cache(maxsize=1)
def _english_terms():
    """:func:`lsr.jvm.classes.english_terms`, made once."""
    return english_terms()


def _joined(tokens, what: str = "token") -> str:
    """``tokens`` joined by :data:`SEP` for one JNI string, refusing a token that contains it."""
    tokens = list(tokens)
    if any(SEP in token for token in tokens):
        raise LsrError(f"{what} contains the separator U+0001: {next(t for t in tokens if SEP in t)!r}")
    return SEP.join(tokens)


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
    return declared().WordPiece(
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
        args += (english_analyzer(), _joined(lexical_idf), [float(w) for w in lexical_idf.values()])
    return declared().TableQueries(*args)


def analyzed_terms(text: str) -> list[str]:
    """The terms of ``text`` under Anserini's default analyzer (``AnalyzerUtils.analyze``), in order."""
    return list(jclass("io.anserini.analysis.AnalyzerUtils").analyze(text).toArray())


def term_statistics(lucene_dir: str | Path, terms: Iterable[str]) -> tuple[int, int, dict[str, int]]:
    """The index's documents, its postings (the sum of its terms' document frequencies) and each of ``terms``' document frequency."""
    reader = jclass("io.anserini.index.IndexReaderUtils").getReader(_java_path(lucene_dir))
    try:
        term = jclass("org.apache.lucene.index.Term")
        documents = reader.numDocs()
        postings = jclass("org.apache.lucene.index.MultiTerms").getTerms(reader, CONTENTS).getSumDocFreq()
        df = {t: reader.docFreq(term(CONTENTS, t)) for t in dict.fromkeys(terms)}
    finally:
        reader.close()
    return documents, postings, df


def bm25_scores(lucene_dir: str | Path, k1: float, b: float, queries: Iterable[tuple[str, Sequence[str]]]) -> list[list[float]]:
    """Anserini's BM25 score of each (query text, document ids) pair's documents for its query."""
    utils = jclass("io.anserini.index.IndexReaderUtils")
    reader = utils.getReader(_java_path(lucene_dir))
    try:
        similarity = bm25_similarity(k1, b)
        return [[utils.computeQueryDocumentScoreWithSimilarity(reader, docid, text, similarity) for docid in docids] for text, docids in queries]
    finally:
        reader.close()


def warm_up(index_dir: str) -> None:
    """A BM25, an impact and an inference-free search on a tiny impact index written to ``index_dir``.

    The JVM's class-data-sharing archive (:func:`lsr.jvm.cds.build_archive`) holds the classes these load.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from lsr.index.impact_writer import ImpactIndexWriter

    with ImpactIndexWriter(index_dir) as writer:
        writer.add("d1", ["aspirin", "cancer"], [3, 5])
    tokenizer = Tokenizer(models.WordPiece({"[UNK]": 0, "aspirin": 1, "cancer": 2}, unk_token="[UNK]"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer()
    inference_free = table_queries(tokenizer.to_str(), {"aspirin": 2.0, "cancer": 1.0}, 100, 512, None, 0.1)
    for similarity in (impact_similarity(), bm25_similarity(0.9, 0.4)):
        index = LuceneIndex(index_dir, similarity)
        index.search(index.weighted_query({"aspirin": 2, "cancer": 1}), 10)
        index.search_text(index.bag_of_words(), "Aspirin lowers the risk of cancer", 1000)
        index.search_text(inference_free, "Aspirin lowers the risk of cancer", 10)
        index.close()
