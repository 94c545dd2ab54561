"""Pruning sparse vectors: keep a document's (or query's) heaviest terms.

Two rules, combinable: ``top_k`` keeps the k heaviest terms (ties: the earlier term, i.e. the lower
vocabulary id for encoded rows); ``min_ratio`` keeps the terms weighing at least that fraction of
the vector's heaviest. Fewer terms per document means a smaller index and shorter posting lists;
fewer query terms means fewer posting lists to score. Both cost some relevance (``lsr bench``
measures how much on SciFact).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import TYPE_CHECKING

from lsr.errors import LsrError

if TYPE_CHECKING:  # numpy/scipy load only for document pruning: the query path stays light
    import scipy.sparse as sp


def quantise(matrix: sp.csr_matrix, scale: float) -> sp.csr_matrix:
    """``round(w * scale)`` as int32, zeros dropped: Lucene truncates impacts to integers; LsrError when one would not fit."""
    import numpy as np

    out = matrix.copy()
    scaled = np.rint(out.data * scale)
    if scaled.size and scaled.max() > np.iinfo(np.int32).max:
        raise LsrError(f"doc_scale {scale:g} makes impacts beyond Lucene's {np.iinfo(np.int32).max} (the heaviest weight is "
                       f"{out.data.max():g}): use a smaller doc_scale")
    out.data = scaled.astype(np.int32)
    out = out.astype(np.int32)
    out.eliminate_zeros()
    return out


def quantise_weights(weights: dict[str, float], scale: float) -> dict[str, int]:
    """``round(w * scale)`` per term (ties to even), non-positive results dropped: Lucene's impacts are integers."""
    rounded = {term: round(weight * scale) for term, weight in weights.items()}
    return {term: weight for term, weight in rounded.items() if weight > 0}


def check_pruning(top_k: int | None, min_ratio: float, what: str) -> None:
    """Raise a clear error for a non-positive ``top_k`` or a ``min_ratio`` outside [0, 1]."""
    if top_k is not None and (not isinstance(top_k, Integral) or isinstance(top_k, bool) or top_k < 1):
        raise LsrError(f"{what}: top_k must be a positive integer or empty, got {top_k!r}")
    if not is_number(min_ratio) or not 0.0 <= min_ratio <= 1.0:
        raise LsrError(f"{what}: min_ratio must be a number between 0 and 1, got {min_ratio!r}")


def is_number(x) -> bool:
    """Whether ``x`` is a real number (an int or float, numpy's too), not a bool."""
    return isinstance(x, Real) and not isinstance(x, bool)


def check_two_phase(ratio, expansion, what: str, whole_share=1.0) -> None:
    """Raise a clear error unless two-phase search's ``ratio`` is in (0, 1], its ``expansion`` at least 1 and its
    ``whole_share`` in (0, 1]."""
    if not (is_number(ratio) and is_number(expansion)) or not 0.0 < ratio <= 1.0 or not expansion >= 1.0:
        raise LsrError(f"{what}: ratio must be in (0, 1] and expansion at least 1, got {ratio!r} and {expansion!r}")
    if not is_number(whole_share) or not 0.0 < whole_share <= 1.0:
        raise LsrError(f"{what}: whole_share must be in (0, 1], got {whole_share!r}")


def prune_weights(weights: dict, top_k: int | None = None, min_ratio: float = 0.0) -> dict:
    """The ``top_k`` heaviest terms of ``{term: weight}`` (ties: first seen) weighing at least ``min_ratio`` x the heaviest."""
    if not weights or (top_k is None and min_ratio <= 0):
        return weights
    floor = min_ratio * max(weights.values())
    ranked = sorted(weights.items(), key=lambda item: -item[1])  # stable: ties keep their order
    return {term: weight for term, weight in ranked[:top_k] if weight >= floor}


def prune_rows(matrix: "sp.csr_matrix", top_k: int | None = None, min_ratio: float = 0.0) -> "sp.csr_matrix":
    """:func:`prune_weights` applied to every row of a CSR matrix (columns kept in increasing order)."""
    import numpy as np
    import scipy.sparse as sp

    if top_k is None and min_ratio <= 0:
        return matrix
    matrix = matrix.tocsr()
    keep = np.zeros(matrix.nnz, dtype=bool)
    for row in range(matrix.shape[0]):
        a, b = matrix.indptr[row], matrix.indptr[row + 1]
        if a == b:
            continue
        values = matrix.data[a:b]
        order = np.argsort(-values, kind="stable")[:top_k]
        order = order[values[order] >= min_ratio * values.max()]
        keep[a + order] = True
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))[keep]
    return sp.csr_matrix((matrix.data[keep], (rows, matrix.indices[keep])), shape=matrix.shape, dtype=matrix.dtype)


def document_rows(model, texts: list[str], recipe) -> sp.csr_matrix:
    """``texts`` encoded by ``model`` (a SparseEncoder) as ``recipe``'s (an IndexRecipe) index holds them: quantised at its ``doc_scale`` and
    pruned by its ``doc_top_k`` and ``doc_min_ratio`` (vocabulary ids as columns)."""
    from lsr.encoders import sparse

    weights = quantise(sparse.encode(model, texts, task="document", batch_size=recipe.batch_size), recipe.doc_scale)
    return prune_rows(weights, recipe.doc_top_k, recipe.doc_min_ratio)
