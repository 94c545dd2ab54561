"""Paired significance tests between two systems' per-query scores (as Pyserini and ir_measures do).

A two-sided paired t-test (``scipy.stats.ttest_rel``) over the queries both systems were scored
on, optionally Bonferroni-corrected for the number of systems compared with the same baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """A system against the baseline on one metric: mean difference, t statistic, (corrected) p-value, verdict."""

    delta: float
    t: float
    p: float
    alpha: float

    @property
    def significant(self) -> bool:
        """p below alpha (a NaN p, from identical scores, is never significant)."""
        return self.p < self.alpha

    @property
    def mark(self) -> str:
        """``▲`` a significant win over the baseline, ``▼`` a significant loss, else empty."""
        if not self.significant:
            return ""
        return "▲" if self.delta > 0 else "▼"


def paired_ttest(system: dict[str, float], baseline: dict[str, float], alpha: float = 0.05, comparisons: int = 1) -> Comparison:
    """Two-sided paired t-test of ``system`` vs ``baseline`` (query id -> score) over their common queries.

    ``comparisons`` > 1 applies the Bonferroni correction: p is multiplied by it (capped at 1).
    Fewer than two common queries, or no variance in the differences, give p = NaN (not significant).
    """
    from scipy.stats import ttest_rel

    queries = sorted(set(system) & set(baseline))
    a = [system[q] for q in queries]
    b = [baseline[q] for q in queries]
    delta = (sum(a) - sum(b)) / len(queries) if queries else 0.0
    differences = [x - y for x, y in zip(a, b)]
    if len(queries) < 2 or max(differences) - min(differences) < 1e-12:
        return Comparison(delta, math.nan, math.nan, alpha)
    result = ttest_rel(a, b)
    return Comparison(delta, float(result.statistic), min(1.0, float(result.pvalue) * max(1, comparisons)), alpha)
