"""Dense (bi-encoder) models: any sentence-transformers ``SentenceTransformer``, and CrossEncoders.

Imports torch: only the dense and hybrid paths load this module, and only when they need a model.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from sentence_transformers import CrossEncoder, SentenceTransformer

from lsr.encoders.loading import no_progress_bars
from lsr.encoders.names import resolve_model
from lsr.errors import LsrError


def load_dense_encoder(name: str, max_length: int | None = None) -> SentenceTransformer:
    """Load a SentenceTransformer by short name (``all-MiniLM-L6-v2``), path or hub id, on the CPU.

    ``max_length`` caps the tokens per text (None: the model's own ``max_seq_length``). Loaded models
    are shared within the process (inference only), so opening several searchers loads one copy.
    """
    path = resolve_model(name)
    try:
        model = _load(path, max_length)
    except Exception as error:  # transformers/hub raise many types; name the model in one clear error
        raise LsrError(f"cannot load dense encoder {name!r} from {path}: {type(error).__name__}: {error}") from None
    config = getattr(getattr(model[0], "auto_model", None), "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    if max_length is not None and isinstance(limit, int) and max_length > limit:
        raise LsrError(f"dense encoder {name!r} reads at most {limit} tokens per text (its max_position_embeddings), "
                       f"asked for {max_length} (max_length)")
    return model


@lru_cache(maxsize=4)
def _load(path: str, max_length: int | None) -> SentenceTransformer:
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    with no_progress_bars():
        model = SentenceTransformer(path, device="cpu")
    if max_length is not None and not isinstance(model[0], StaticEmbedding):  # a static embedding has no position limit
        model.max_seq_length = max_length
    return model


def encode(model: SentenceTransformer, texts: Sequence[str], task: str, prompt: str = "", normalize: bool = True,
           batch_size: int = 32) -> np.ndarray:
    """float32 embeddings, one row per text; ``task`` is ``query`` or ``document`` (the model's own prompts apply)."""
    method = {"query": model.encode_query, "document": model.encode_document}[task]
    vectors = method(list(texts), prompt=prompt or None, batch_size=batch_size, convert_to_numpy=True,
                     normalize_embeddings=normalize, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class StaticQueryEncoder:
    """A static-embedding SentenceTransformer (``StaticEmbedding``, optionally ``Normalize``) run without torch: the
    mean of the embedding rows of its tokenizer's ids, which is what ``StaticEmbedding``'s ``EmbeddingBag`` computes.
    Same vectors as ``model.encode`` up to float rounding, without the per-call cost of batching and torch (tens of
    microseconds a query instead of about a millisecond on one core)."""

    def __init__(self, model: SentenceTransformer):
        self.tokenizer = model[0].tokenizer
        self.table = model[0].embedding.weight.detach().cpu().numpy()
        self.normalised = len(model) > 1  # its Normalize module

    @staticmethod
    def fits(model) -> bool:
        """Whether ``model`` is a static embedding, normalised or not (nothing else runs after its table)."""
        from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

        modules = list(model) if isinstance(model, SentenceTransformer) else []
        return bool(modules) and isinstance(modules[0], StaticEmbedding) and all(isinstance(m, Normalize) for m in modules[1:])

    def encode(self, texts: Sequence[str], prompt: str = "", normalize: bool = True) -> np.ndarray:
        """float32 vectors, one row per text (a text without tokens: a zero row), of unit length when ``normalize`` or
        when the model normalises."""
        vectors = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch([prompt + text for text in texts], add_special_tokens=False)):
            if encoding.ids:
                vectors[row] = self.table[encoding.ids].mean(axis=0)
        if normalize or self.normalised:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def load_cross_encoder(name: str, max_length: int | None = 512) -> CrossEncoder:
    """Load a CrossEncoder (a reranker scoring (query, document) pairs) by name, path or hub id."""
    try:
        path = resolve_model(name)
    except LsrError:
        path = name
    try:
        with no_progress_bars():
            return CrossEncoder(path, device="cpu", max_length=max_length)
    except Exception as error:
        raise LsrError(f"cannot load cross-encoder {name!r} from {path}: {type(error).__name__}: {error}") from None
