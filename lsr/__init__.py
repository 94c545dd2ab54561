"""lsr: learned sparse retrieval on Lucene.

Importing ``lsr`` stays light (no torch, no transformers, no JVM): the inference-free search path
needs only a tokenizer and a weight table. Heavy pieces load when first used.
"""

from __future__ import annotations

from lsr.version import __version__

__all__ = ["Hit", "HybridSearcher", "Searcher", "__version__"]


def __getattr__(name: str):
    if name in ("Searcher", "Hit", "HybridSearcher"):
        from lsr import search

        return getattr(search, name)
    raise AttributeError(f"module 'lsr' has no attribute {name!r}")
