"""One search interface over BM25, impact (SPLADE, inference-free), dense and hybrid indexes.

``Searcher.open(index_dir)`` reads the index's manifest and returns the right searcher, opened by
the :data:`OPENERS` entry of its kind (dense and hybrid searchers live in ``lsr.search.dense`` and
``lsr.search.hybrid``, which build on this module; :mod:`lsr.search` registers them). Lucene searching
goes straight to Anserini's Java searchers through pyjnius (never through ``pyserini.search``, whose
import costs seconds). Opening an inference-free index loads only a tokenizer and a weight table:
torch is never imported on that path.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple, Protocol, Sequence

from lsr.config import MAX_THREADS
from lsr.errors import LsrError
from lsr.index.check import check_index
from lsr.index.manifest import LUCENE_DIR, MANIFEST
from lsr.index.pruning import check_pruning, check_two_phase, is_number, prune_weights, quantise_weights
from lsr.types import Hit

if TYPE_CHECKING:
    from lsr.search.explain import TermMatch


class TwoPhase(NamedTuple):
    """Two-phase impact search: the query terms weighing at least ``ratio`` x its heaviest find ``expansion`` x k
    candidates, the other terms then rescore them (as OpenSearch's two-phase processor, whose ``ratio`` and
    ``expansion`` defaults these are). Where the candidates would be more than ``whole_share`` of the index's documents
    (a small corpus, a deep k; 1: never), every term is searched at once instead: with 6% or more of SciFact's
    documents as candidates that search was as fast as the two phases or faster, and it misses nothing
    (docs/lexical-channel.md)."""

    ratio: float = 0.4
    expansion: float = 5.0
    whole_share: float = 0.05

    def check(self) -> None:
        """Raise a clear error for a ratio or whole share outside (0, 1] or an expansion below 1."""
        check_two_phase(self.ratio, self.expansion, "two-phase search", self.whole_share)


class QueryEncoder(Protocol):
    """Anything that turns a query into {term: weight}."""

    def encode(self, query: str) -> dict[str, float]: ...


OPENERS: dict[str, Callable[..., Searcher]] = {}
"""Manifest kind -> ``opener(index_dir, manifest, **pruning)``, a searcher of that kind; ``pruning`` holds
:meth:`Searcher.open`'s keyword arguments. ``bm25`` and ``impact`` are registered here, ``dense`` and
``hybrid`` by :mod:`lsr.search`."""


class Searcher(ABC):
    """Search an lsr index: ``search(query, k)`` and ``batch_search(queries, k, threads)``."""

    @staticmethod
    def open(index_dir: str | os.PathLike, query_top_k: int | None = None, query_min_ratio: float | None = None,
             two_phase: TwoPhase | None = None, query_max_df: float | None = None, exhaustive: bool = False) -> "Searcher":
        """Open any lsr index directory (BM25, impact, dense or hybrid), as its manifest describes; a damaged one (its manifest
        or files, :func:`lsr.index.check.check_index`) is an LsrError naming the folder and what is wrong.

        ``query_top_k`` / ``query_min_ratio`` / ``query_max_df``: query-side pruning of impact searchers;
        ``two_phase``: their two-phase search (see :class:`ImpactSearcher`); given for another kind of index, an LsrError.
        ``None`` takes the index's default from its recipe (``IndexRecipe.search_defaults``), if any; ``exhaustive`` ignores those
        defaults, so that every query term scores every document (the options given still apply).
        """
        manifest = open_manifest(index_dir)
        given = [name for name, value in (("query_top_k", query_top_k), ("query_min_ratio", query_min_ratio), ("query_max_df", query_max_df),
                                          ("two_phase", two_phase)) if value is not None]
        if given and manifest["kind"] != "impact":
            raise LsrError(f"{index_dir}: {', '.join(given)} apply only to impact indexes searched by Lucene; "
                           f"this is a {manifest['kind']} index, which would ignore them")
        return OPENERS[manifest["kind"]](index_dir, manifest, query_top_k=query_top_k, query_min_ratio=query_min_ratio, two_phase=two_phase,
                      query_max_df=query_max_df, exhaustive=exhaustive)

    @abstractmethod
    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first. An empty query has no hits."""

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given."""
        _check_threads(threads)
        return [self.search(query, k) for query in _check_queries(queries)]

    def encode_query(self, query: str) -> None:
        """Run only the query-side model on ``query``, as ``search`` would, without searching: what latency figures
        time to tell the encoder's share from the search's. None where no model runs (BM25, inference-free tables)."""

    def close(self) -> None:
        """Release what the searcher holds open."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_manifest(index_dir: str | os.PathLike) -> dict:
    """:func:`check_index`'s manifest of ``index_dir``; an LsrError for an argument that is not a path, or for a path
    without a folder name (``''``, ``/``) that holds no index."""
    if not isinstance(index_dir, (str, os.PathLike)):
        raise LsrError(f"index_dir must be an index folder's path (str or os.PathLike), got {type(index_dir).__name__} {index_dir!r:.80}")
    path = Path(index_dir)
    if not path.name and not (path / MANIFEST).is_file():
        raise LsrError(f"{os.fspath(index_dir) or repr('')} is not an lsr index: {MANIFEST} is missing; give an index folder")
    return check_index(path)


def _check_k(k: int, name: str = "k") -> int:
    """``k`` as an int; an LsrError naming ``name`` unless it is a whole number of at least 1 (a bool is not)."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise LsrError(f"{name} must be at least 1 and a whole number, got {k!r}")
    return int(k)


def _check_threads(threads: int) -> int:
    """``threads`` as an int (below 2: one thread); an LsrError unless it is a whole number of at most :data:`MAX_THREADS`
    (faiss would set OpenMP to a million threads, and a later search crash the process)."""
    if isinstance(threads, bool) or not isinstance(threads, Integral):
        raise LsrError(f"threads must be a whole number, got {threads!r}")
    if threads > MAX_THREADS:
        raise LsrError(f"threads must be at most {MAX_THREADS}, got {threads!r}")
    return int(threads)


def _check_query(query: str) -> None:
    """An LsrError unless ``query`` is a str."""
    if not isinstance(query, str):
        raise LsrError(f"a query must be a str, got {type(query).__name__} {query!r:.80}")


def _check_queries(queries: Iterable[str]) -> list[str]:
    """``queries`` as a list; an LsrError unless it is a list (or other iterable, not a str) of str."""
    if isinstance(queries, (str, bytes)) or not isinstance(queries, Iterable):
        hint = " (search takes one query)" if isinstance(queries, str) else ""
        raise LsrError(f"queries must be a list of str, got {type(queries).__name__} {queries!r:.80}{hint}")
    queries = list(queries)
    for query in queries:
        _check_query(query)
    return queries


class LuceneSearcher(Searcher):
    """A searcher over a Lucene index through Lucene's own ``IndexSearcher`` (see :mod:`lsr.search.lucene`).

    A query is one call into Java when Java can build it from the text (BM25; inference-free with a
    BERT tokenizer): build, search (score, then docid, as Anserini breaks ties) and hand back the
    hits' ids and scores as two arrays, whatever ``k`` is. Other queries are encoded in Python first.
    """

    def __init__(self, index_dir: str | os.PathLike, manifest: dict, similarity):
        from lsr.search.lucene import LuceneIndex

        self.index_dir = Path(index_dir)
        self.manifest = manifest
        self._lucene = LuceneIndex(self.index_dir / LUCENE_DIR, similarity)
        self._text_queries = None  # Java's builder of queries from text, where there is one

    def _prepare(self, query: str):
        """The Java query object for ``query`` built in Python, or None when it cannot match anything."""
        raise NotImplementedError

    def search(self, query: str, k: int = 10) -> list[Hit]:
        k = _check_k(k)
        _check_query(query)
        self._lucene.ensure_open()
        return self._search(query, k) if query.strip() else []

    def _search(self, query: str, k: int) -> list[Hit]:
        """The hits of a non-empty query: one Java call when Java builds it from the text."""
        if self._text_queries is not None:
            return self._lucene.search_text(self._text_queries, query, k)
        prepared = self._prepare(query)
        return self._lucene.search(prepared, k) if prepared is not None else []

    def explain(self, query: str, docids: Sequence[str]) -> dict[str, list[TermMatch]]:
        """Why each of ``docids`` matched ``query``: the query terms it holds, with their weights and contributions to its
        score, heaviest first (:mod:`lsr.search.explain`). A document that the index does not hold, or that no term matches, has none."""
        _check_query(query)
        docids = _check_queries(docids)
        self._lucene.ensure_open()
        prepared = None
        if query.strip():
            prepared = self._lucene.text_query(self._text_queries, query) if self._text_queries is not None else self._prepare(query)
        weights = self._query_weights(query) if prepared is not None else None
        return {docid: self._lucene.explain(prepared, docid, weights) if prepared is not None else [] for docid in docids}

    def _query_weights(self, query: str) -> dict[str, float] | None:
        """The query's {term: boost} where Lucene's explanation leaves them out (impact indexes); None for BM25."""
        return None

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given, searched on ``threads`` threads."""
        k, threads, queries = _check_k(k), _check_threads(threads), _check_queries(queries)
        if threads <= 1 or len(queries) < 2:
            return [self.search(query, k) for query in queries]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda query: self.search(query, k), queries))

    def close(self) -> None:
        """Release the Lucene index."""
        self._lucene.close()


class BM25Searcher(LuceneSearcher):
    """BM25 over a Lucene index of title + text (Anserini's default English analyzer)."""

    def __init__(self, index_dir, manifest):
        from lsr.search.lucene import bm25_similarity

        super().__init__(index_dir, manifest, bm25_similarity(float(manifest["query"]["k1"]), float(manifest["query"]["b"])))
        self._text_queries = self._lucene.bag_of_words()


class ImpactSearcher(LuceneSearcher):
    """Impact search: the query's {term: weight}, rounded to integer boosts, scored by dot product.

    ``query_top_k`` keeps only the query's heaviest terms and ``query_min_ratio`` only those weighing at
    least that fraction of its heaviest (query-side pruning: fewer posting lists, less relevance).
    ``query_max_df`` drops the query terms found in more than that fraction of the index's documents:
    the near-stopwords of this index, such as terms a document model spread over most of the corpus,
    whose long lists cost the most and tell documents apart the least.
    A table encoder with a BERT tokenizer runs in Java (same terms and weights as :meth:`quantised`), with the
    index's BM25 channel (:mod:`lsr.encoders.lexical`) where it has one.
    ``two_phase`` (:class:`TwoPhase`) searches with the heavy query terms first and rescores their
    candidates with the others: faster, and it may miss documents that only the light terms would find.
    """

    def __init__(self, index_dir, manifest, encoder: QueryEncoder, query_top_k: int | None = None, query_min_ratio: float = 0.0,
                 two_phase: TwoPhase | None = None, query_max_df: float = 1.0):
        from lsr.encoders.table import MAX_QUERY_TOKENS, TableQueryEncoder
        from lsr.search.lucene import impact_similarity, table_queries

        if not is_number(query_max_df) or not 0.0 < query_max_df <= 1.0:
            raise LsrError(f"query_max_df must be a number in (0, 1], got {query_max_df!r}")
        super().__init__(index_dir, manifest, impact_similarity())
        self.query_max_df = query_max_df
        frequent = self._lucene.frequent_terms(query_max_df) if query_max_df < 1.0 else frozenset()
        lexical = encoder if "lexical" in manifest["query"] else None  # a BM25 channel wraps the table (or model) encoder
        inner = lexical.encoder if lexical is not None else encoder
        if frequent and isinstance(inner, TableQueryEncoder):  # out of the tables: neither query path weighs them
            inner = TableQueryEncoder(inner.tokenizer, {t: w for t, w in inner.weights.items() if t not in frequent})
            if lexical is not None:  # the BM25 channel keeps its terms: its idf already weighs frequent ones down
                from lsr.encoders.lexical import LexicalQueryEncoder

                lexical = LexicalQueryEncoder(inner, lexical.idf, lexical.analyzer)
            encoder, frequent = lexical or inner, frozenset()
        self._frequent = frequent  # dropped after encoding, for encoders without a table (a model's)
        self.encoder = encoder
        self.scale = float(manifest["query"]["scale"])
        check_pruning(query_top_k, query_min_ratio, "query pruning")
        self.query_top_k = query_top_k
        self.query_min_ratio = query_min_ratio
        if two_phase is not None:
            if not isinstance(two_phase, (tuple, list)) or not 2 <= len(two_phase) <= 3:  # a TwoPhase is a tuple
                raise LsrError(f"two_phase must be a TwoPhase(ratio, expansion[, whole_share]), got {two_phase!r}")
            two_phase = TwoPhase(*two_phase)
            two_phase.check()
        self.two_phase = two_phase
        if isinstance(inner, TableQueryEncoder):
            self._text_queries = table_queries(inner.tokenizer.to_str(), inner.weights, self.scale, MAX_QUERY_TOKENS, query_top_k, query_min_ratio,
                                               lexical.idf if lexical is not None else None)

    def encode_query(self, query: str) -> None:
        """Encode ``query`` by the model, when queries go through one (siamese SPLADE); tables run no model."""
        if self._text_queries is None:
            self.encoder.encode(query)

    def quantised(self, query: str) -> dict[str, int]:
        """The query's integer term weights, as sent to Lucene (after query-side pruning)."""
        weights = quantise_weights(self.encoder.encode(query), self.scale)
        if self._frequent:
            weights = {term: weight for term, weight in weights.items() if term not in self._frequent}
        return prune_weights(weights, self.query_top_k, self.query_min_ratio)

    def _search(self, query: str, k: int) -> list[Hit]:
        if self.two_phase is None:
            return super()._search(query, k)
        if self._text_queries is not None:
            return self._lucene.two_phase_text(self._text_queries, query, k, *self.two_phase)
        weights = self.quantised(query)
        return self._lucene.two_phase(weights, k, *self.two_phase) if weights else []

    def _query_weights(self, query: str) -> dict[str, float]:
        if self._text_queries is not None:
            from lsr.search.lucene import within_clause_limit

            weighted = self._text_queries.encode(within_clause_limit(query))
            return dict(zip(weighted.terms, weighted.weights))
        return self.quantised(query)

    def _prepare(self, query):
        weights = self.quantised(query)
        return self._lucene.weighted_query(weights) if weights else None


def check_query_model(index_dir: Path, query: dict) -> None:
    """Raise a clear error if the query model that the index pinned (``model_digest``) is missing or changed."""
    from lsr.index.recipe import directory_digest

    pinned, model = query.get("model_digest"), Path(query["model"])
    if pinned is None:
        return
    if not model.is_dir():
        raise LsrError(f"{index_dir}: its query model {model} is missing; rebuild the index (lsr index ... --output {index_dir})")
    if directory_digest(model) != pinned:
        raise LsrError(f"{index_dir}: its query model {model} changed since the index was built (the files' digest differs); "
                       f"rebuild the index (lsr index ... --output {index_dir})")


def query_encoder(index_dir: Path, query: dict) -> QueryEncoder:
    """The query encoder that a manifest's ``query`` section describes (with its BM25 channel, if any)."""
    if query["type"] in ("idf", "table"):
        from lsr.encoders.table import TableQueryEncoder

        encoder = TableQueryEncoder.from_files(index_dir / query["tokenizer"], index_dir / query["weights"])
    elif query["type"] == "model" and "onnx" in query:
        from lsr.encoders.onnx import OnnxSparseQueryEncoder

        encoder = OnnxSparseQueryEncoder(index_dir / query["onnx"], query.get("max_length"))
    elif query["type"] == "model":
        from lsr.encoders.sparse import ModelQueryEncoder, load_sparse_encoder

        check_query_model(index_dir, query)
        encoder = ModelQueryEncoder(load_sparse_encoder(query["model"], query_length=query.get("max_length")))
    else:
        raise LsrError(f"{index_dir}: unknown query encoder type {query['type']!r} in the manifest")
    if "lexical" in query:
        from lsr.encoders.lexical import LexicalQueryEncoder
        from lsr.encoders.table import read_weights

        encoder = LexicalQueryEncoder(encoder, read_weights(index_dir / query["lexical"]["weights"]))
    return encoder


def _open_impact(index_dir: str | os.PathLike, manifest: dict, query_min_ratio: float | None = None, query_max_df: float | None = None,
                 two_phase: TwoPhase | None = None, exhaustive: bool = False, **options) -> ImpactSearcher:
    defaults = {} if exhaustive else manifest["query"].get("defaults", {})  # the recipe's (IndexRecipe.search_defaults)
    if two_phase is None and "two_phase" in defaults:
        two_phase = TwoPhase(*defaults["two_phase"])
    return ImpactSearcher(index_dir, manifest, query_encoder(Path(index_dir), manifest["query"]),
                          query_min_ratio=defaults.get("query_min_ratio", 0.0) if query_min_ratio is None else query_min_ratio,
                          query_max_df=defaults.get("query_max_df", 1.0) if query_max_df is None else query_max_df, two_phase=two_phase,
                          **options)


OPENERS.update(bm25=lambda index_dir, manifest, **_: BM25Searcher(index_dir, manifest), impact=_open_impact)
