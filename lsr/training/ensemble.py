"""Heterogeneous ensemble targets: per-query normalised teacher scores, combined.

Teachers score on different scales (cosine, dot products, BM25), so each teacher's scores are
normalised per query row first (min-max by default, z-score as an option), then combined with
weights (default: mean) and multiplied by ``scale`` (default 30) so that a softmax over them is
usefully peaked, as in opensearch-sparse-model-tuning-sample's ensemble distillation.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from lsr.errors import LsrError

NORMALISATIONS = ("minmax", "zscore")


def normalise_rows(scores: np.ndarray, method: str = "minmax") -> np.ndarray:
    """Normalise each row (one query's candidates) of ``scores``; a constant row becomes zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    if method == "minmax":
        low = scores.min(axis=1, keepdims=True)
        span = scores.max(axis=1, keepdims=True) - low
        return np.divide(scores - low, span, out=np.zeros_like(scores), where=span > 0)
    if method == "zscore":
        std = scores.std(axis=1, keepdims=True)
        return np.divide(scores - scores.mean(axis=1, keepdims=True), std, out=np.zeros_like(scores), where=std > 0)
    raise LsrError(f"unknown normalisation {method!r}: use one of {NORMALISATIONS}")


def check_teacher_weights(weights, teachers: Sequence[str]) -> None:
    """An LsrError unless ``weights`` maps some of ``teachers`` to finite numbers >= 0, not all 0 (a teacher left out weighs 0)."""
    if not isinstance(weights, Mapping) or set(weights) - set(teachers) or \
            not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w < math.inf for w in weights.values()) or \
            not sum(weights.values()):
        raise LsrError(f"ensemble weights must map teachers ({', '.join(teachers)}) to finite numbers >= 0, not all 0; got {weights!r}")


def ensemble_targets(teacher_scores: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None,
                     method: str = "minmax", scale: float = 30.0) -> np.ndarray:
    """Combine ``{teacher: (queries x candidates) scores}`` into distillation targets of the same shape."""
    if not teacher_scores:
        raise LsrError("an ensemble needs at least one teacher")
    names: Sequence[str] = list(teacher_scores)
    shapes = {np.shape(teacher_scores[n]) for n in names}
    if len(shapes) != 1:
        raise LsrError(f"teachers scored different candidate sets: shapes {sorted(shapes)}")
    weights = {n: 1.0 for n in names} if weights is None else dict(weights)
    check_teacher_weights(weights, names)
    total = sum(weights.get(n, 0.0) for n in names)
    combined = sum(weights.get(n, 0.0) * normalise_rows(teacher_scores[n], method) for n in names) / total
    return combined * scale
