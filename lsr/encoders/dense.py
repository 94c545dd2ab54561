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
    with no_progress_bars():
        model = SentenceTransformer(path, device="cpu")
    if max_length is not None:
        model.max_seq_length = max_length
    return model


def encode(model: SentenceTransformer, texts: Sequence[str], task: str, prompt: str = "", normalize: bool = True,
           batch_size: int = 32) -> np.ndarray:
    """float32 embeddings, one row per text; ``task`` is ``query`` or ``document`` (the model's own prompts apply)."""
    method = {"query": model.encode_query, "document": model.encode_document}[task]
    vectors = method(list(texts), prompt=prompt or None, batch_size=batch_size, convert_to_numpy=True,
                     normalize_embeddings=normalize, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


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
