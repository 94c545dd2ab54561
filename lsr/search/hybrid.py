"""Hybrid search: sparse candidates, dense verification, fused; optionally a cross-encoder on top.

``fusion`` mode fuses the sparse top-``depth`` list(s) with the dense (faiss) top-``depth``.
``rerank`` mode needs no dense search: the dense side scores only the sparse top-``depth``
candidates (of every sparse searcher) from their stored vectors, and the scorings are fused. A CrossEncoder, when
configured, rescores the fused top ``cross_encoder_depth`` (document texts come from the corpus
the indexes were built from, checked by its sha256).
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

from lsr.errors import LsrError
from lsr.fusion import FusionConfig
from lsr.index.hybrid import check_same_documents
from lsr.search.dense import DenseSearcher
from lsr.search.searcher import Searcher, _check_k, _check_queries, open_manifest
from lsr.types import Hit


class PairScorer(Protocol):
    """Anything that scores (query, document text) pairs, like sentence-transformers' CrossEncoder."""

    def predict(self, pairs: list[tuple[str, str]], **kwargs) -> Sequence[float]: ...


class HybridSearcher(Searcher):
    """Sparse searcher(s) and a dense searcher of the same documents, fused as ``config`` says.

    ``sparse`` is one searcher (two-list hybrid: weights ``1 - dense_weight`` and ``dense_weight``) or a
    sequence of them (an N-list hybrid: ``config.list_weights`` gives one weight per sparse list, then
    the dense one). ``self.sparse`` is the first sparse searcher, ``self.sparse_searchers`` all of them.
    """

    def __init__(self, sparse: Searcher | Sequence[Searcher], dense: DenseSearcher, config: FusionConfig | None = None,
                 cross_encoder: PairScorer | None = None, texts: Mapping[str, str] | None = None):
        searchers = list(sparse) if isinstance(sparse, (list, tuple)) else [sparse]
        if not searchers:
            raise LsrError("a hybrid needs at least one sparse searcher")
        for searcher in searchers:
            sparse_manifest = getattr(searcher, "manifest", None)
            if sparse_manifest is not None:
                check_same_documents(sparse_manifest, dense.manifest)
        self.sparse_searchers = searchers
        self.sparse = searchers[0]
        self.dense = dense
        self.config = config or FusionConfig()
        if len(self.config.weights) != len(searchers) + 1:
            raise LsrError(f"a hybrid of {len(searchers)} sparse list(s) and a dense one needs {len(searchers) + 1} fusion weights, "
                           f"its configuration has {len(self.config.weights)} (list_weights: one per sparse list, then the dense one)")
        self._cross_encoder = cross_encoder
        self._texts = texts

    @classmethod
    def from_indexes(cls, sparse_dir: str | os.PathLike | Sequence[str | os.PathLike], dense_dir: str | os.PathLike,
                     **settings) -> "HybridSearcher":
        """Open sparse index directory(ies) and a dense one; ``settings`` are :class:`FusionConfig` fields."""
        dirs = list(sparse_dir) if isinstance(sparse_dir, (list, tuple)) else [sparse_dir]
        sparse = [Searcher.open(d) for d in dirs]
        return cls(sparse if len(sparse) > 1 else sparse[0], DenseSearcher(dense_dir), FusionConfig(**settings))

    @classmethod
    def from_manifest(cls, index_dir: str | os.PathLike, manifest: dict | None = None) -> "HybridSearcher":
        """Open a hybrid index directory (what ``lsr index`` writes for a ``kind: hybrid`` recipe)."""
        manifest = manifest or open_manifest(index_dir)
        if manifest["kind"] != "hybrid":
            raise LsrError(f"{index_dir}: a {manifest['kind']} index, not a hybrid one (Searcher.open opens any kind)")
        index_dir = Path(index_dir)
        sparse = [Searcher.open(index_dir / d) for d in [manifest["sparse"], *manifest.get("more_sparse", [])]]
        fusion = dict(manifest["fusion"])
        if fusion.get("list_weights") is not None:
            fusion["list_weights"] = tuple(fusion["list_weights"])
        return cls(sparse if len(sparse) > 1 else sparse[0], DenseSearcher(index_dir / manifest["dense"]), FusionConfig(**fusion))

    def with_config(self, **settings) -> "HybridSearcher":
        """The same components under other fusion settings (nothing is reloaded)."""
        cross_encoder = None if "cross_encoder" in settings else self._cross_encoder
        sparse = self.sparse_searchers if len(self.sparse_searchers) > 1 else self.sparse
        return HybridSearcher(sparse, self.dense, replace(self.config, **settings), cross_encoder, self._texts)

    @cached_property
    def cross_encoder(self) -> PairScorer | None:
        """The configured CrossEncoder, loaded on first use (None when there is none)."""
        if self._cross_encoder is None and self.config.cross_encoder:
            from lsr.encoders.dense import load_cross_encoder

            self._cross_encoder = load_cross_encoder(self.config.cross_encoder)
        return self._cross_encoder

    @cached_property
    def texts(self) -> Mapping[str, str]:
        """Document id -> title + text, read from the corpus the dense index was built from."""
        if self._texts is None:
            from lsr.data import Dataset

            corpus = self.dense.manifest["corpus"]
            path = Path(corpus["path"])
            dataset = Dataset(path.parent.name, path.parent, path.name)
            if not path.is_file() or dataset.corpus_sha256 != corpus["sha256"]:
                raise LsrError(f"the cross-encoder needs the documents' text: {path} is missing or is not the corpus that was indexed")
            self._texts = {doc.id: doc.contents for doc in dataset.corpus()}
        return self._texts

    def sparse_lists(self, queries: Sequence[str], depth: int, threads: int = 1) -> list[list[list[Hit]]]:
        """For each query, one list of ``depth`` hits per sparse searcher."""
        _check_k(depth, "depth")
        per_searcher = [s.batch_search(queries, depth, threads) if len(queries) > 1 else [s.search(queries[0], depth)]
                        for s in self.sparse_searchers]
        return [list(lists) for lists in zip(*per_searcher)]

    def candidates(self, queries: Sequence[str], depth: int, threads: int = 1) -> tuple[list[list[list[Hit]]], list[list[Hit]]]:
        """(sparse lists, dense list) of ``depth`` hits per query, as this hybrid's mode gets them; each
        query's sparse lists hold one list per sparse searcher."""
        sparse = self.sparse_lists(queries, depth, threads)
        return sparse, self.dense_lists(self.dense.encode(queries), sparse, depth, threads)

    def dense_lists(self, vectors: np.ndarray, sparse: Sequence[Sequence[Sequence[Hit]]], depth: int, threads: int = 1) -> list[list[Hit]]:
        """The dense side for query vectors: in ``rerank`` mode the stored-vector scores of each query's
        sparse candidates (the union of its sparse lists, in order of first appearance); in ``fusion``
        mode the faiss top ``depth``."""
        if self.config.mode == "rerank":
            lists = []
            for vector, query_lists in zip(vectors, sparse):
                docs = list(dict.fromkeys(h.docid for hits in query_lists for h in hits[:depth]))
                lists.append(self.dense.score(vector, docs) if docs else [])
            return lists
        return self.dense.search_vectors(vectors, depth, threads)

    def combine(self, query: str, sparse: Sequence[Sequence[Hit]], dense: Sequence[Hit], k: int) -> list[Hit]:
        """The final hits from a query's sparse lists (one per sparse searcher) and dense list (cut to the
        configured depth): fused, then cross-encoded."""
        depth = self.config.depth
        sparse = [hits[:depth] for hits in sparse]
        if self.config.mode == "rerank":  # the dense scores of exactly the sparse candidates at this depth
            candidates = {h.docid for hits in sparse for h in hits}
            dense = [h for h in dense if h.docid in candidates]
        lists = [*sparse, dense[:depth] if self.config.mode == "fusion" else dense]
        fused = self.config.combine_lists(lists, None if self.config.cross_encoder or self._cross_encoder else k)
        if self.cross_encoder is None or not fused:
            return fused[:k]
        top = fused[:self.config.cross_encoder_depth]
        scores = np.asarray(self.cross_encoder.predict([(query, self.texts[h.docid]) for h in top], show_progress_bar=False), dtype=float)
        reranked = sorted((Hit(h.docid, float(s)) for h, s in zip(top, scores.reshape(len(top), -1)[:, -1])), key=lambda h: (-h.score, h.docid))
        return reranked[:k]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` fused hits for ``query`` (at most ``2 * depth``; with a cross-encoder, at most its depth)."""
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[list[Hit]]:
        """The top ``k`` fused hits of each query: the sparse side in one batch, queries encoded together."""
        _check_k(k)
        queries = _check_queries(queries)
        if not queries:
            return []
        sparse, dense = self.candidates(queries, self.config.depth, threads)
        return [self.combine(q, s, d, k) for q, s, d in zip(queries, sparse, dense)]

    def encode_query(self, query: str) -> None:
        """Run every component's query model on ``query``."""
        for searcher in (*self.sparse_searchers, self.dense):
            searcher.encode_query(query)

    def close(self) -> None:
        """Close every component."""
        for searcher in self.sparse_searchers:
            searcher.close()
        self.dense.close()
