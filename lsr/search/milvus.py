"""Search a Milvus collection (:mod:`lsr.index.milvus`) with the query side of the impact index it was written from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from lsr.errors import LsrError
from lsr.index.milvus import CONNECT_TIMEOUT, SEARCH_PARAMS, VECTOR_FIELD, close_client, is_server, open_client
from lsr.search.derived import DerivedSearcher
from lsr.search.searcher import _check_k, _check_queries, _check_query
from lsr.types import Hit

MAX_K = 16_384  # Milvus' largest top-k
QUERY_BATCH = 100  # queries per search request of batch_search


class MilvusSearcher(DerivedSearcher):
    """Exact top-k by inner product over a Milvus collection (``SPARSE_INVERTED_INDEX``, ``drop_ratio_search`` 0): the query
    is weighed as the source impact index weighs it (its IDF or model encoder, BM25 channel included, integer weights).
    The collection is on a Milvus server, or in the folder's embedded milvus-lite. Query terms that no document holds are
    dropped; where documents tie at the k-th score, Milvus returns any of them (Lucene: the first ids)."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict, timeout: float = CONNECT_TIMEOUT):
        self.index_dir = Path(index_dir)
        self.manifest = manifest
        settings = manifest["milvus"]
        self.uri = settings["uri"] if is_server(settings["uri"]) else str(self.index_dir / settings["uri"])
        self.collection = settings["collection"]
        self._open_query_side(self.index_dir, manifest)
        self._client = open_client(self.uri, timeout)
        self.closed = False
        if not self._client.has_collection(self.collection):
            self.close()
            raise LsrError(f"{self.index_dir}: Milvus at {self.uri} has no collection {self.collection!r}; export it again "
                           f"(lsr export milvus SOURCE -o {self.index_dir})")
        self._client.load_collection(self.collection)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first, ties by document id."""
        _check_query(query)
        return self._search([query], k)[0]

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` hits of each query, in the order given, :data:`QUERY_BATCH` queries per request."""
        queries = _check_queries(queries)
        return [hits for start in range(0, len(queries), QUERY_BATCH) for hits in self._search(queries[start:start + QUERY_BATCH], k)]

    def _search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        k = _check_k(k)
        if k > MAX_K:
            raise LsrError(f"k must be at most {MAX_K} for a Milvus collection, got {k}")
        if self.closed:
            raise LsrError(f"{self.index_dir}: this Milvus searcher is closed; open the index again (Searcher.open)")
        vectors = [{self._terms[t]: float(w) for t, w in self.quantised(q).items()} if q.strip() else {} for q in queries]
        asked = [i for i, vector in enumerate(vectors) if vector]
        results: list[list[Hit]] = [[] for _ in queries]
        if asked:
            try:
                found = self._client.search(self.collection, data=[vectors[i] for i in asked], anns_field=VECTOR_FIELD, limit=k,
                                            search_params=SEARCH_PARAMS)
            except Exception as error:  # pymilvus raises MilvusException and grpc errors
                raise LsrError(f"Milvus search in {self.collection!r} at {self.uri} failed: {getattr(error, 'message', error)}") from None
            for i, hits in zip(asked, found):
                results[i] = sorted((Hit(hit["id"], float(hit["distance"])) for hit in hits), key=lambda hit: (-hit.score, hit.docid))
        return results

    def close(self) -> None:
        """Close the connection (the last one to a milvus-lite folder stops its server)."""
        if not self.closed:
            close_client(self._client, self.uri)
            self.closed = True
