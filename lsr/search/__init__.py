"""Searching lsr indexes: :class:`Searcher` (BM25, SPLADE, inference-free, dense, hybrid) and :class:`Hit`.

``DenseSearcher``, ``HybridSearcher``, ``SeismicSearcher`` and ``MilvusSearcher`` are imported on first use (they bring
numpy/faiss, torch when a query is encoded, Seismic or pymilvus), so the inference-free path stays torch-free. This package
registers them as the openers of dense, hybrid, Seismic and Milvus indexes for :meth:`Searcher.open`.
"""

from lsr.search.searcher import OPENERS, BM25Searcher, ImpactSearcher, LuceneSearcher, Searcher, TwoPhase
from lsr.types import Hit

__all__ = ["BM25Searcher", "DenseSearcher", "Hit", "HybridSearcher", "ImpactSearcher", "LuceneSearcher", "MilvusSearcher", "Searcher",
           "SeismicSearcher", "TwoPhase"]


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
    if name == "MilvusSearcher":
        from lsr.search.milvus import MilvusSearcher

        return MilvusSearcher
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


def _open_milvus(index_dir, manifest: dict, **_) -> Searcher:
    from lsr.search.milvus import open_milvus

    return open_milvus(index_dir, manifest)


OPENERS.update(dense=_open_dense, hybrid=_open_hybrid, seismic=_open_seismic, milvus=_open_milvus)
