"""Fusing ranked lists of hits: reciprocal rank fusion, normalised or raw weighted sums.

Pure functions over ``list[Hit]`` (one query) and runs (``{qid: {docid: score}}``), numpy
only. Conventions, the same for every method:

- ``rrf``: a document scores ``sum_i w_i / (rrf_k + rank_i)``; ranks start at 1 and tied scores
  share the best rank (``[3, 2, 2, 1]`` -> ranks ``1, 2, 2, 4``); a list that lacks the document
  adds nothing (Cormack et al. 2009).
- ``minmax`` / ``zscore``: each list's scores are normalised per query (min-max to [0, 1]: all
  equal -> 1.0; z-score: all equal -> 0.0), then summed with the weights. ``raw`` sums the scores
  as they are (interpolation; only sensible when the scales are comparable).
- a document missing from a list gets that list's minimum (normalised) score with
  ``missing="min"``, or 0 with ``missing="zero"``; an empty list adds nothing to any document.
- the fused list is sorted by score, ties by doc id, and cut to ``k``.

pyserini's ``pyserini.fusion`` (pandas, whole runs, missing -> 0, no weights for min-max, no
z-score) agrees with :func:`fuse` for ``rrf`` and for equal-weight ``minmax`` with ``missing="zero"``
up to a constant factor; the tests check that. It is not used at search time: building pandas
frames per query costs more than the fusion itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lsr.errors import LsrError
from lsr.recipe_files import Number, check_numbers
from lsr.types import Hit

METHODS = ("rrf", "minmax", "zscore", "raw")
NORMALISATIONS = ("minmax", "zscore")
MISSING = ("min", "zero")
MODES = ("fusion", "rerank")
FUSION_NUMBERS = {"rrf_k": Number(low=0, above=True), "depth": Number(integer=True, low=1), "cross_encoder_depth": Number(integer=True, low=1)}

Run = dict[str, dict[str, float]]


def ranks(hits: Sequence[Hit]) -> dict[str, int]:
    """Rank of each document by score, from 1; tied scores share the best rank."""
    return dict(zip((h.docid for h in hits), _ranks(_scores(hits)).tolist()))


def normalise(hits: Sequence[Hit], method: str = "minmax") -> list[Hit]:
    """The hits with per-list normalised scores (same order): ``minmax`` or ``zscore``."""
    if method not in NORMALISATIONS:
        raise LsrError(f"unknown normalisation {method!r}: use one of {', '.join(NORMALISATIONS)}")
    return [Hit(h.docid, v) for h, v in zip(hits, _normalised(_scores(hits), method).tolist())]


def check_weights(weights: Sequence[float], lists: int) -> list[float]:
    """``weights`` as floats, or LsrError unless there is one per list, each >= 0, summing to 1."""
    if len(weights) != lists:
        raise LsrError(f"{len(weights)} fusion weight(s) for {lists} ranked list(s): give one weight per list")
    values = [float(w) for w in weights]
    if not all(math.isfinite(w) and w >= 0 for w in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise LsrError(f"fusion weights must be non-negative and sum to 1, got {list(weights)}")
    return values


def _scores(hits: Sequence[Hit]) -> np.ndarray:
    return np.fromiter((h.score for h in hits), dtype=np.float64, count=len(hits))


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1 + the number of strictly higher scores."""
    return 1 + np.searchsorted(np.sort(-scores), -scores, side="left")


def _normalised(scores: np.ndarray, method: str) -> np.ndarray:
    if not len(scores):
        return scores
    if method == "minmax":
        low, high = scores.min(), scores.max()
        return (scores - low) / (high - low) if high > low else np.ones_like(scores)
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def _method_scores(scores: np.ndarray, method: str, rrf_k: float) -> np.ndarray:
    if method == "rrf":
        return 1.0 / (rrf_k + _ranks(scores))
    return scores if method == "raw" else _normalised(scores, method)


def fuse(lists: Sequence[Sequence[Hit]], weights: Sequence[float] | None = None, method: str = "minmax",
         missing: str = "min", rrf_k: float = 60, k: int | None = None) -> list[Hit]:
    """One ranked list from several (see the module's conventions); equal weights by default."""
    if not lists:
        raise LsrError("fusion needs at least one ranked list")
    if method not in METHODS:
        raise LsrError(f"unknown fusion method {method!r}: use one of {', '.join(METHODS)}")
    if missing not in MISSING:
        raise LsrError(f"unknown missing-document policy {missing!r}: use one of {', '.join(MISSING)}")
    if rrf_k <= 0:
        raise LsrError(f"rrf_k must be positive, got {rrf_k}")
    weights = check_weights([1 / len(lists)] * len(lists) if weights is None else weights, len(lists))
    column: dict[str, int] = {}
    rows = []
    for hits in lists:
        rows.append([column.setdefault(h.docid, len(column)) for h in hits])
        if len(set(rows[-1])) != len(hits):
            raise LsrError("a ranked list to fuse holds the same document twice")
    totals = np.zeros(len(column))
    for weight, hits, row in zip(weights, lists, rows):
        if not hits:
            continue  # an empty list adds nothing to any document
        scores = _method_scores(_scores(hits), method, rrf_k)
        fill = scores.min() if missing == "min" and method != "rrf" else 0.0
        values = np.full(len(column), fill)
        values[row] = scores
        totals += weight * values
    return _ranked(list(column), totals, k)


def _ranked(doc_ids: list[str], totals: np.ndarray, k: int | None) -> list[Hit]:
    """Hits by score, ties by doc id, cut to ``k`` (only the top ``k`` and their ties are sorted)."""
    chosen = np.arange(len(doc_ids))
    if k is not None and k < len(doc_ids):
        threshold = np.partition(totals, len(totals) - k)[len(totals) - k]  # the k-th highest score
        chosen = np.flatnonzero(totals >= threshold)
    values = totals.tolist()
    order = sorted(chosen.tolist(), key=lambda i: (-values[i], doc_ids[i]))
    return [Hit(doc_ids[i], values[i]) for i in order[:k]]


def rrf(lists: Sequence[Sequence[Hit]], k: float = 60, weights: Sequence[float] | None = None) -> list[Hit]:
    """Reciprocal rank fusion with constant ``k`` (60 as in Cormack et al.); equal weights by default."""
    return fuse(lists, weights, "rrf", rrf_k=k)


def fuse_runs(runs: Sequence[Run], weights: Sequence[float] | None = None, method: str = "minmax",
              missing: str = "min", rrf_k: float = 60, k: int | None = None) -> Run:
    """:func:`fuse` per query over whole runs; a query absent from a run has an empty list there."""
    queries = list(dict.fromkeys(q for run in runs for q in run))
    lists = lambda q: [[Hit(d, s) for d, s in run.get(q, {}).items()] for run in runs]  # noqa: E731
    return {q: dict(fuse(lists(q), weights, method, missing, rrf_k, k)) for q in queries}


@dataclass(frozen=True)
class FusionConfig:
    """How a hybrid combines its sparse side(s) and its dense side.

    ``mode``: ``fusion`` fuses each sparse top-``depth`` with the dense (faiss) top-``depth``;
    ``rerank`` computes dense scores only for the sparse candidates (the union of the sparse
    top-``depth`` lists; stored document vectors, no dense search) and fuses the scorings of those
    candidates. ``method``, ``missing`` and ``rrf_k`` as in :func:`fuse`. With one sparse list it
    weighs ``1 - dense_weight``; with several, ``list_weights`` gives one weight per list (the
    sparse lists in order, then the dense one; summing to 1) and ``dense_weight`` is its last.
    ``cross_encoder``: a CrossEncoder model (name, path or hub id) that rescores the fused top
    ``cross_encoder_depth`` as a last stage (the hybrid then returns at most that many hits).
    """

    mode: str = "fusion"
    method: str = "minmax"
    dense_weight: float = 0.5
    rrf_k: float = 60
    depth: int = 1000
    missing: str = "min"
    cross_encoder: str | None = None
    cross_encoder_depth: int = 100
    list_weights: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.list_weights is not None:
            if isinstance(self.list_weights, (str, bytes)) or not hasattr(self.list_weights, "__len__") or len(self.list_weights) < 2:
                raise LsrError(f"list_weights must be a list of at least two weights (sparse lists, then dense), got {self.list_weights!r}")
            weights = tuple(check_weights(self.list_weights, len(self.list_weights)))
            object.__setattr__(self, "list_weights", weights)
            object.__setattr__(self, "dense_weight", weights[-1])
        if self.mode not in MODES:
            raise LsrError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.method not in METHODS:
            raise LsrError(f"unknown fusion method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.missing not in MISSING:
            raise LsrError(f"missing must be one of {', '.join(MISSING)}, got {self.missing!r}")
        if not isinstance(self.dense_weight, (int, float)) or not 0 <= self.dense_weight <= 1:
            raise LsrError(f"dense_weight must be a number in [0, 1] (the sparse side weighs 1 - dense_weight), got {self.dense_weight!r}")
        check_numbers(self, FUSION_NUMBERS, "fusion")

    @property
    def weights(self) -> tuple[float, ...]:
        """One weight per list: (sparse weight, dense weight), or ``list_weights`` when set."""
        return self.list_weights or (1.0 - self.dense_weight, float(self.dense_weight))

    def combine(self, sparse: Sequence[Hit], dense: Sequence[Hit], k: int | None = None) -> list[Hit]:
        """The fused list of a sparse and a dense list under this configuration."""
        return self.combine_lists([sparse, dense], k)

    def combine_lists(self, lists: Sequence[Sequence[Hit]], k: int | None = None) -> list[Hit]:
        """The fused list of the sparse lists and the dense list (last) under this configuration."""
        if len(lists) != len(self.weights):
            raise LsrError(f"{len(lists)} ranked lists but {len(self.weights)} fusion weights: "
                           "a hybrid with several sparse sides needs list_weights, one per list (sparse lists, then dense)")
        return fuse(lists, self.weights, self.method, self.missing, self.rrf_k, k)

    def describe(self) -> str:
        """A short summary, e.g. ``rerank minmax w=0.3 d=100`` (several lists: ``w=0.3/0.2/0.5``)."""
        weights = f"w={self.dense_weight:g}" if self.list_weights is None else "w=" + "/".join(f"{w:g}" for w in self.list_weights)
        parts = [self.mode, self.method, weights, f"d={self.depth}"]
        several = self.list_weights is not None and len(self.list_weights) > 2
        parts += [f"rrf_k={self.rrf_k:g}"] if self.method == "rrf" else [f"missing={self.missing}"] if self.mode == "fusion" or several else []
        parts += [f"ce={self.cross_encoder}@{self.cross_encoder_depth}"] if self.cross_encoder else []
        return " ".join(parts)
