"""One search interface over BM25 and impact (SPLADE, inference-free) Lucene indexes.

``Searcher.open(index_dir)`` reads the index's manifest and returns the right searcher. Searching
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

    def __init__(self, index_dir: str | os.PathLike, manifest: dict):
        self.index_dir = Path(index_dir)
        self.manifest = manifest

    @staticmethod
    def open(index_dir: str | os.PathLike) -> "Searcher":
        """Open any lsr index directory (BM25 or impact), as its manifest describes."""
        manifest = read_manifest(index_dir)
        if manifest["kind"] == "bm25":
            return BM25Searcher(index_dir, manifest)
        return ImpactSearcher(index_dir, manifest, query_encoder(Path(index_dir), manifest["query"]))

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first. An empty query has no hits."""
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        prepared = self._prepare(query)
        return [Hit(h.docid, h.score) for h in self._java.search(prepared, k)] if prepared else []

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given, searched on ``threads`` Java threads."""
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        prepared = [self._prepare(q) for q in queries]
        ids = [str(i) for i, q in enumerate(prepared) if q]
        jqueries = jclass("java.util.ArrayList")()
        jids = jclass("java.util.ArrayList")()
        for i in ids:
            jqueries.add(prepared[int(i)])
            jids.add(i)
        found = self._batch(jqueries, jids, k, threads) if ids else None
        results: list[list[Hit]] = []
        for i, query in enumerate(prepared):
            hits = found.get(str(i)) if query else None
            results.append([Hit(h.docid, h.score) for h in hits] if hits else [])
        return results

    @abstractmethod
    def _prepare(self, query: str):
        """The Java query object for ``query``, or None when it cannot match anything."""

    @abstractmethod
    def _batch(self, queries, ids, k: int, threads: int):
        """Anserini's batch search: a Java Map from id to hit array."""

    def close(self) -> None:
        """Release the Lucene index."""
        self._java.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BM25Searcher(Searcher):
    """BM25 over a Lucene index of title + text (Anserini's default English analyzer)."""

    def __init__(self, index_dir, manifest):
        super().__init__(index_dir, manifest)
        self._java = jclass("io.anserini.search.SimpleSearcher")(str(self.index_dir / LUCENE_DIR))
        self._java.set_bm25(float(manifest["query"]["k1"]), float(manifest["query"]["b"]))

    def _prepare(self, query):
        return query if query.strip() else None

    def _batch(self, queries, ids, k, threads):
        return self._java.batch_search(queries, ids, k, threads)


class ImpactSearcher(Searcher):
    """Impact search: the query's {term: weight}, rounded to integer boosts, scored by dot product."""

    def __init__(self, index_dir, manifest, encoder: QueryEncoder):
        super().__init__(index_dir, manifest)
        self.encoder = encoder
        self.scale = float(manifest["query"]["scale"])
        self._java = jclass("io.anserini.search.SimpleImpactSearcher")(str(self.index_dir / LUCENE_DIR))

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

    def _batch(self, queries, ids, k, threads):
        return self._java.batch_search(queries, ids, k, threads)


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
