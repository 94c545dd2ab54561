"""Searching lsr indexes: :class:`Searcher` (BM25, SPLADE, inference-free) and :class:`Hit`."""

from lsr.search.searcher import BM25Searcher, Hit, ImpactSearcher, LuceneSearcher, Searcher

__all__ = ["BM25Searcher", "Hit", "ImpactSearcher", "LuceneSearcher", "Searcher"]
