"""Search a Milvus collection (:mod:`lsr.index.milvus`) with the query side of the index it was written from.

A collection written from a hybrid index opens as a :class:`~lsr.search.hybrid.HybridSearcher` over a
:class:`MilvusSearcher` (the sparse field) and a :class:`MilvusDenseSearcher` (the dense field), fused by lsr's fusion with
the hybrid's settings, so that it returns what the source hybrid returns. Milvus' own ``hybrid_search`` is not used: its
rankers (RRF, and weighted sums of arctan-normalised scores) do not include the min-max and z-score fusions that lsr's
hybrids are tuned with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lsr.errors import LsrError
from lsr.fusion import FusionConfig
from lsr.index.milvus import (
    CONNECT_TIMEOUT,
    DENSE_DIR,
    DENSE_SEARCH_PARAMS,
    ID_FIELD,
    SEARCH_PARAMS,
    VECTOR_FIELD,
    close_client,
    is_server,
    open_client,
)
from lsr.search.dense import DenseSearcher
from lsr.search.derived import DerivedSearcher
from lsr.search.searcher import Searcher, _check_k, _check_queries, _check_query
from lsr.types import Hit

MAX_K = 16_384  # Milvus' largest top-k
QUERY_BATCH = 100  # queries per search request of batch_search


def open_milvus(index_dir: str | os.PathLike, manifest: dict) -> Searcher:
    """The searcher of an lsr Milvus folder: a :class:`MilvusSearcher`, or for a collection written from a hybrid index a
    HybridSearcher over its sparse and dense fields with the hybrid's fusion settings."""
    sparse = MilvusSearcher(index_dir, manifest)
    dense = manifest["milvus"].get("dense")
    if not dense:
        return sparse
    from lsr.search.hybrid import HybridSearcher

    try:
        return HybridSearcher(sparse, MilvusDenseSearcher(index_dir, manifest), FusionConfig(**dense["fusion"]))
    except BaseException:
        sparse.close()
        raise


class _Collection:
    """A connection to the collection of an lsr Milvus folder, shared by the sparse and the dense searcher."""

    def _connect(self, index_dir: Path, settings: dict, timeout: float) -> None:
        self.uri = settings["uri"] if is_server(settings["uri"]) else str(index_dir / settings["uri"])
        self.collection = settings["collection"]
        self._client = open_client(self.uri, timeout)
        self.closed = False
        if not self._client.has_collection(self.collection):
            self.close()
            raise LsrError(f"{index_dir}: Milvus at {self.uri} has no collection {self.collection!r}; export it again "
                           f"(lsr export milvus SOURCE -o {index_dir})")
        self._client.load_collection(self.collection)

    def _request(self, call: Callable):
        """``call()`` on the open client; Milvus' errors as LsrErrors naming the collection."""
        if self.closed:
            raise LsrError(f"{self.collection!r}: this Milvus searcher is closed; open the index again (Searcher.open)")
        try:
            return call()
        except Exception as error:  # pymilvus raises MilvusException and grpc errors
            raise LsrError(f"Milvus request to {self.collection!r} at {self.uri} failed: {getattr(error, 'message', error)}") from None

    def close(self) -> None:
        """Close the connection (the last one to a milvus-lite folder stops its server)."""
        if not self.closed:
            close_client(self._client, self.uri)
            self.closed = True


def _check_milvus_k(k: int, documents: int) -> int:
    """``k`` as an int, cut to the collection's ``documents`` (a deeper k finds no more); an LsrError unless it is a whole
    number of at least 1 and, so cut, at most Milvus' :data:`MAX_K`."""
    k = min(_check_k(k), max(documents, 1))
    if k > MAX_K:
        raise LsrError(f"k must be at most {MAX_K} for a Milvus collection of more documents, got {k}")
    return k


def _ranked(found) -> list[list[Hit]]:
    return [sorted((Hit(hit["id"], float(hit["distance"])) for hit in hits), key=lambda hit: (-hit.score, hit.docid)) for hits in found]


class MilvusSearcher(_Collection, DerivedSearcher):
    """Exact top-k by inner product over a Milvus collection (``SPARSE_INVERTED_INDEX``, ``drop_ratio_search`` 0): the query
    is weighed as the source impact index weighs it (its IDF or model encoder, BM25 channel included, integer weights).
    The collection is on a Milvus server, or in the folder's embedded milvus-lite. Query terms that no document holds are
    dropped; where documents tie at the k-th score, Milvus returns any of them (Lucene: the first ids)."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict, timeout: float = CONNECT_TIMEOUT):
        self.index_dir = Path(index_dir)
        self.manifest = manifest
        self._open_query_side(self.index_dir, manifest)
        self._connect(self.index_dir, manifest["milvus"], timeout)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first, ties by document id."""
        _check_query(query)
        return self._search([query], k)[0]

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given, :data:`QUERY_BATCH` queries per request."""
        queries = _check_queries(queries)
        return [hits for start in range(0, len(queries), QUERY_BATCH) for hits in self._search(queries[start:start + QUERY_BATCH], k)]

    def _search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        k = _check_milvus_k(k, self.manifest["num_docs"])
        vectors = [{self._terms[t]: float(w) for t, w in self.quantised(q).items()} if q.strip() else {} for q in queries]
        asked = [i for i, vector in enumerate(vectors) if vector]
        results: list[list[Hit]] = [[] for _ in queries]
        if asked:
            found = self._request(lambda: self._client.search(self.collection, data=[vectors[i] for i in asked], anns_field=VECTOR_FIELD,
                                                              limit=k, search_params=SEARCH_PARAMS))
            for i, hits in zip(asked, _ranked(found)):
                results[i] = hits
        return results


class MilvusDenseSearcher(_Collection, DenseSearcher):
    """The dense field of a Milvus collection written from a hybrid index: queries embedded as the source dense index embeds
    them (its model, prompt and normalisation, its ONNX export when it has one), searched exactly (``FLAT``, inner product);
    :meth:`score` fetches the given documents' stored vectors, as the hybrid's rerank mode needs."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict, timeout: float = CONNECT_TIMEOUT):
        settings = manifest["milvus"]
        dense = settings["dense"]
        self.index_dir = Path(index_dir) / DENSE_DIR  # where an ONNX query model is kept
        self.field = dense["field"]
        self.manifest = {**{key: manifest[key] for key in ("corpus", "num_docs", "skipped_empty", "dataset") if key in manifest},
                         "kind": "dense", "query": dense["query"], "faiss": {"dim": dense["dim"]}}
        self._connect(Path(index_dir), settings, timeout)

    def search_vectors(self, vectors: np.ndarray, k: int, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` documents of each query vector by inner product (zero vectors: no hits), :data:`QUERY_BATCH` per request."""
        k = _check_milvus_k(k, self.manifest["num_docs"])
        asked = [i for i in range(len(vectors)) if vectors[i].any()]
        results: list[list[Hit]] = [[] for _ in range(len(vectors))]
        for start in range(0, len(asked), QUERY_BATCH):
            batch = asked[start:start + QUERY_BATCH]
            found = self._request(lambda: self._client.search(self.collection, data=[vectors[i].tolist() for i in batch], anns_field=self.field,
                                                              limit=k, search_params=DENSE_SEARCH_PARAMS))
            for i, hits in zip(batch, _ranked(found)):
                results[i] = hits
        return results

    def score(self, vector: np.ndarray, doc_ids: Sequence[str]) -> list[Hit]:
        """Inner products of one query vector with the stored vectors of ``doc_ids`` (in that order)."""
        rows = self._request(lambda: self._client.get(self.collection, ids=list(doc_ids), output_fields=[self.field]))
        stored = {row[ID_FIELD]: row[self.field] for row in rows}
        missing = [d for d in doc_ids if d not in stored]
        if missing:
            raise LsrError(f"{self.index_dir.parent}: document {missing[0]!r} is not in Milvus collection {self.collection!r}")
        scores = np.asarray([stored[d] for d in doc_ids], dtype=np.float32) @ vector
        return [Hit(d, float(s)) for d, s in zip(doc_ids, scores)]
