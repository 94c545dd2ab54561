"""Dense search: a query embedding against a faiss index of document embeddings.

:class:`DenseSearcher` also scores given documents from their stored vectors (``score``), which is
what the hybrid's rerank mode uses: no faiss search, only the candidates' rows of ``vectors.npy``.
The query encoder (and so torch) is loaded on the first query.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from lsr.encoders.threads import torch_threads
from lsr.errors import LsrError
from lsr.index.check import damaged, read_doc_ids
from lsr.index.manifest import FAISS_FILE, VECTORS
from lsr.search.searcher import Searcher, _check_k, _check_queries, _check_threads, open_manifest
from lsr.types import Hit


class DenseSearcher(Searcher):
    """Search a dense index (``kind: dense``): exact inner product (flat) or HNSW, as it was built."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict | None = None):
        self.manifest = manifest or open_manifest(index_dir)
        self.index_dir = Path(index_dir)
        if self.manifest["kind"] != "dense":
            raise LsrError(f"{index_dir}: a {self.manifest['kind']} index, not a dense one")
        self.doc_ids: list[str] = read_doc_ids(index_dir, self.manifest)
        self.rows = {docid: row for row, docid in enumerate(self.doc_ids)}

    @cached_property
    def vectors(self) -> np.ndarray:
        """The document vectors, memory-mapped (row i = ``doc_ids[i]``)."""
        return np.load(self.index_dir / VECTORS, mmap_mode="r")

    @cached_property
    def index(self):
        """The faiss index, read on first dense search."""
        import faiss

        try:
            index = faiss.read_index(str(self.index_dir / FAISS_FILE))
        except RuntimeError as error:
            raise damaged(self.index_dir, f"faiss cannot read {FAISS_FILE} ({str(error).strip().splitlines()[-1]})") from None
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = int(self.manifest["faiss"]["ef_search"])
        return index

    @cached_property
    def model(self):
        """The query encoder, loaded on first use: a SentenceTransformer, an :class:`lsr.encoders.onnx.OnnxEncoder`
        when the index holds an ONNX export of it (``query.onnx``), or a :class:`lsr.encoders.dense.StaticQueryEncoder`
        when it is a static embedding."""
        query = self.manifest["query"]
        if "onnx" in query:
            from lsr.encoders.onnx import OnnxEncoder

            return OnnxEncoder(self.index_dir / query["onnx"], query.get("max_length"))
        from lsr.encoders.dense import StaticQueryEncoder, load_dense_encoder

        model = load_dense_encoder(query["model"], query.get("max_length"))
        return StaticQueryEncoder(model) if StaticQueryEncoder.fits(model) else model

    def encode(self, queries: Sequence[str]) -> np.ndarray:
        """Query embeddings, one row per query (empty queries: zero rows that match nothing)."""
        query = self.manifest["query"]
        prompt, normalize = query.get("prompt", ""), query.get("normalize", True)
        out = np.zeros((len(queries), int(self.manifest["faiss"]["dim"])), dtype=np.float32)
        rows = [i for i, q in enumerate(queries) if q.strip()]
        texts = [queries[i] for i in rows]
        if not texts:
            return out
        if "onnx" in query:  # the export pools (and normalises, as the model does) inside its graph
            prompt = prompt or self.model.settings.get("query_prompt", "")  # the model's own, as encode_query applies it
            vectors = self.model.run([prompt + text for text in texts])
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12) if normalize else vectors
        else:
            from lsr.encoders.dense import StaticQueryEncoder, encode

            if isinstance(self.model, StaticQueryEncoder):
                vectors = self.model.encode(texts, prompt, normalize)
            else:
                with torch_threads(1 if len(texts) == 1 else None):
                    vectors = encode(self.model, texts, "query", prompt, normalize)
        if vectors.shape[1] != out.shape[1]:
            raise LsrError(f"{self.index_dir}: its query model {query.get('onnx') or query['model']} gives {vectors.shape[1]}-dimensional "
                           f"vectors, not the {out.shape[1]} of its documents (replaced after indexing?); rebuild the index")
        out[rows] = vectors
        return out

    def encode_query(self, query: str) -> None:
        """Embed ``query`` (the query model, without the faiss search)."""
        self.encode([query])

    def search_vectors(self, vectors: np.ndarray, k: int, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` documents of each query vector by inner product (zero vectors: no hits)."""
        import faiss

        k = _check_k(k)
        faiss.omp_set_num_threads(max(1, _check_threads(threads)))
        scores, rows = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, len(self.doc_ids)))
        empty = ~vectors.any(axis=1)
        return [[] if empty[q] else [Hit(self.doc_ids[r], float(s)) for r, s in zip(rows[q], scores[q]) if r >= 0]
                for q in range(len(vectors))]

    def score(self, vector: np.ndarray, doc_ids: Sequence[str]) -> list[Hit]:
        """Inner products of one query vector with the stored vectors of ``doc_ids`` (in that order)."""
        try:
            rows = [self.rows[d] for d in doc_ids]
        except KeyError as error:
            raise LsrError(f"{self.index_dir}: document {error.args[0]!r} is not in the dense index (built from another corpus?)") from None
        scores = np.asarray(self.vectors[rows]) @ vector
        return [Hit(d, float(s)) for d, s in zip(doc_ids, scores)]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` documents for ``query`` by inner product; an empty query has no hits."""
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` documents of each query: queries encoded in batches, searched by faiss on ``threads`` threads."""
        _check_k(k)
        return self.search_vectors(self.encode(_check_queries(queries)), k, threads)

