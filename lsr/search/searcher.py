"""One search interface over BM25, impact (SPLADE, inference-free), dense and hybrid indexes.

``Searcher.open(index_dir)`` reads the index's manifest and returns the right searcher (dense and
hybrid ones live in ``lsr.search.dense`` and ``lsr.search.hybrid``). Lucene searching
goes straight to Anserini's Java searchers through pyjnius (never through ``pyserini.search``, whose
import costs seconds). Opening an inference-free index loads only a tokenizer and a weight table:
torch is never imported on that path.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import NamedTuple, Protocol, Sequence

from lsr.errors import LsrError
from lsr.index.manifest import LUCENE_DIR, read_manifest
from lsr.java import jclass


class Hit(NamedTuple):
    """One search result."""

    docid: str
    score: float


class QueryEncoder(Protocol):
    """Anything that turns a query into {term: weight}."""

    def encode(self, query: str) -> dict[str, float]: ...


class Searcher(ABC):
    """Search an lsr index: ``search(query, k)`` and ``batch_search(queries, k, threads)``."""

    @staticmethod
    def open(index_dir: str | os.PathLike) -> "Searcher":
        """Open any lsr index directory (BM25, impact, dense or hybrid), as its manifest describes."""
        manifest = read_manifest(index_dir)
        if manifest["kind"] == "bm25":
            return BM25Searcher(index_dir, manifest)
        if manifest["kind"] == "impact":
            return ImpactSearcher(index_dir, manifest, query_encoder(Path(index_dir), manifest["query"]))
        if manifest["kind"] == "dense":
            from lsr.search.dense import DenseSearcher

            return DenseSearcher(index_dir, manifest)
        if manifest["kind"] == "hybrid":
            from lsr.search.hybrid import HybridSearcher

            return HybridSearcher.from_manifest(index_dir, manifest)
        raise LsrError(f"{index_dir}: unknown index kind {manifest['kind']!r} in the manifest")

    @abstractmethod
    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first. An empty query has no hits."""

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given."""
        return [self.search(query, k) for query in queries]

    def close(self) -> None:
        """Release what the searcher holds open."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check_k(k: int) -> None:
    if k < 1:
        raise LsrError(f"k must be at least 1, got {k}")


class LuceneSearcher(Searcher):
    """A searcher backed by one of Anserini's Java searchers (``self._java``)."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict, java_class: str):
        self.index_dir = Path(index_dir)
        self.manifest = manifest
        self._java = jclass(java_class)(str(self.index_dir / LUCENE_DIR))

    @abstractmethod
    def _prepare(self, query: str):
        """The Java query object for ``query``, or None when it cannot match anything."""

    def search(self, query: str, k: int = 10) -> list[Hit]:
        _check_k(k)
        prepared = self._prepare(query)
        return [Hit(h.docid, h.score) for h in self._java.search(prepared, k)] if prepared else []

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given, searched on ``threads`` Java threads."""
        _check_k(k)
        prepared = [self._prepare(q) for q in queries]
        jqueries = jclass("java.util.ArrayList")()
        jids = jclass("java.util.ArrayList")()
        for i, query in enumerate(prepared):
            if query:
                jqueries.add(query)
                jids.add(str(i))
        found = self._java.batch_search(jqueries, jids, k, threads) if jids.size() else None
        return [[Hit(h.docid, h.score) for h in found.get(str(i))] if query else [] for i, query in enumerate(prepared)]

    def close(self) -> None:
        """Release the Lucene index."""
        self._java.close()


class BM25Searcher(LuceneSearcher):
    """BM25 over a Lucene index of title + text (Anserini's default English analyzer)."""

    def __init__(self, index_dir, manifest):
        super().__init__(index_dir, manifest, "io.anserini.search.SimpleSearcher")
        self._java.set_bm25(float(manifest["query"]["k1"]), float(manifest["query"]["b"]))

    def _prepare(self, query):
        return query if query.strip() else None


class ImpactSearcher(LuceneSearcher):
    """Impact search: the query's {term: weight}, rounded to integer boosts, scored by dot product."""

    def __init__(self, index_dir, manifest, encoder: QueryEncoder):
        super().__init__(index_dir, manifest, "io.anserini.search.SimpleImpactSearcher")
        self.encoder = encoder
        self.scale = float(manifest["query"]["scale"])

    def quantised(self, query: str) -> dict[str, int]:
        """The query's integer term weights, as sent to Lucene."""
        return quantise_query(self.encoder.encode(query), self.scale)

    def _prepare(self, query):
        weights = self.quantised(query) if query.strip() else {}
        if not weights:
            return None
        jmap = jclass("java.util.HashMap")()
        integer = jclass("java.lang.Integer")
        for term, weight in weights.items():
            jmap.put(term, integer(weight))
        return jmap


def quantise_query(weights: dict[str, float], scale: float) -> dict[str, int]:
    """``round(w * scale)`` per term, non-positive results dropped."""
    rounded = {term: round(weight * scale) for term, weight in weights.items()}
    return {term: weight for term, weight in rounded.items() if weight > 0}


def query_encoder(index_dir: Path, query: dict) -> QueryEncoder:
    """The query encoder that a manifest's ``query`` section describes."""
    if query["type"] in ("idf", "table"):
        from lsr.encoders.table import TableQueryEncoder

        return TableQueryEncoder.from_files(index_dir / query["tokenizer"], index_dir / query["weights"])
    if query["type"] == "model":
        from lsr.encoders.sparse import ModelQueryEncoder, load_sparse_encoder

        return ModelQueryEncoder(load_sparse_encoder(query["model"], query_length=query.get("max_length")))
    raise LsrError(f"{index_dir}: unknown query encoder type {query['type']!r} in the manifest")
