"""Searching lsr indexes: :class:`Searcher` (BM25, SPLADE, inference-free, dense, hybrid) and :class:`Hit`.

``DenseSearcher``, ``HybridSearcher`` and ``SeismicSearcher`` are imported on first use (they bring numpy/faiss,
torch when a query is encoded, or Seismic), so the inference-free path stays torch-free. This package registers
them as the openers of dense, hybrid and Seismic indexes for :meth:`Searcher.open`.
"""

from lsr.search.searcher import OPENERS, BM25Searcher, ImpactSearcher, LuceneSearcher, Searcher, TwoPhase
from lsr.types import Hit

__all__ = ["BM25Searcher", "DenseSearcher", "Hit", "HybridSearcher", "ImpactSearcher", "LuceneSearcher", "Searcher", "SeismicSearcher",
           "TwoPhase"]


def __getattr__(name: str):
    if name == "DenseSearcher":
        from lsr.search.dense import DenseSearcher

        return DenseSearcher
    if name == "HybridSearcher":
        from lsr.search.hybrid import HybridSearcher

        return HybridSearcher
    if name == "SeismicSearcher":
        from lsr.search.seismic import SeismicSearcher

        return SeismicSearcher
    raise AttributeError(f"module 'lsr.search' has no attribute {name!r}")


def _open_dense(index_dir, manifest: dict, **_) -> Searcher:
    from lsr.search.dense import DenseSearcher

    return DenseSearcher(index_dir, manifest)


def _open_hybrid(index_dir, manifest: dict, **_) -> Searcher:
    from lsr.search.hybrid import HybridSearcher

    return HybridSearcher.from_manifest(index_dir, manifest)


def _open_seismic(index_dir, manifest: dict, **_) -> Searcher:
    from lsr.search.seismic import SeismicSearcher

    return SeismicSearcher(index_dir, manifest)


OPENERS.update(dense=_open_dense, hybrid=_open_hybrid, seismic=_open_seismic)
