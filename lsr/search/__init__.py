"""Searching lsr indexes: :class:`Searcher` (BM25, SPLADE, inference-free, dense, hybrid) and :class:`Hit`.

``DenseSearcher`` and ``HybridSearcher`` are imported on first use (they bring numpy/faiss, and torch
when a query is encoded), so the inference-free path stays torch-free. This package registers them
as the openers of dense and hybrid indexes for :meth:`Searcher.open`.
"""

from lsr.search.searcher import OPENERS, BM25Searcher, ImpactSearcher, LuceneSearcher, Searcher, TwoPhase
from lsr.types import Hit

__all__ = ["BM25Searcher", "DenseSearcher", "Hit", "HybridSearcher", "ImpactSearcher", "LuceneSearcher", "Searcher", "TwoPhase"]


def __getattr__(name: str):
    if name == "DenseSearcher":
        from lsr.search.dense import DenseSearcher

        return DenseSearcher
    if name == "HybridSearcher":
        from lsr.search.hybrid import HybridSearcher

        return HybridSearcher
    raise AttributeError(f"module 'lsr.search' has no attribute {name!r}")


def _open_dense(index_dir, manifest: dict, **_) -> Searcher:
    from lsr.search.dense import DenseSearcher

    return DenseSearcher(index_dir, manifest)


def _open_hybrid(index_dir, manifest: dict, **_) -> Searcher:
    from lsr.search.hybrid import HybridSearcher

    return HybridSearcher.from_manifest(index_dir, manifest)


OPENERS.update(dense=_open_dense, hybrid=_open_hybrid)
