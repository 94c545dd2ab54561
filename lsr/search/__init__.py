"""Searching lsr indexes: :class:`Searcher` (BM25, SPLADE, inference-free, dense, hybrid) and :class:`Hit`.

``DenseSearcher`` and ``HybridSearcher`` are imported on first use (they bring numpy/faiss, and torch
when a query is encoded), so the inference-free path stays torch-free.
"""

from lsr.search.searcher import BM25Searcher, Hit, ImpactSearcher, LuceneSearcher, Searcher, TwoPhase

__all__ = ["BM25Searcher", "DenseSearcher", "Hit", "HybridSearcher", "ImpactSearcher", "LuceneSearcher", "Searcher", "TwoPhase"]


def __getattr__(name: str):
    if name == "DenseSearcher":
        from lsr.search.dense import DenseSearcher

        return DenseSearcher
    if name == "HybridSearcher":
        from lsr.search.hybrid import HybridSearcher

        return HybridSearcher
    raise AttributeError(f"module 'lsr.search' has no attribute {name!r}")
