"""The paired t-test against the baseline, on a worked example."""

import math

import pytest

from lsr.eval.significance import paired_ttest


def test_worked_example():
    """Differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t = 0.2 / (0.1 / sqrt 3) = 2 sqrt 3; with 2 degrees of
    freedom the two-sided p is 1 - t / sqrt(2 + t^2) = 1 - sqrt(12 / 14) = 0.07418."""
    system = {"q1": 0.6, "q2": 0.7, "q3": 0.8}
    baseline = {"q1": 0.5, "q2": 0.5, "q3": 0.5}
    result = paired_ttest(system, baseline, alpha=0.1)
    assert result.delta == pytest.approx(0.2)
    assert result.t == pytest.approx(2 * math.sqrt(3))
    assert result.p == pytest.approx(1 - math.sqrt(12 / 14), abs=1e-6)
    assert result.significant and result.mark == "▲"
    corrected = paired_ttest(system, baseline, alpha=0.1, comparisons=2)  # Bonferroni: p doubled, no longer below 0.1
    assert corrected.p == pytest.approx(2 * (1 - math.sqrt(12 / 14)), abs=1e-6)
    assert not corrected.significant and corrected.mark == ""
    assert paired_ttest(baseline, system, alpha=0.1).mark == "▼"


def test_only_common_queries_and_degenerate_cases():
    assert paired_ttest({"a": 1.0, "b": 0.0, "extra": 1.0}, {"a": 0.5, "b": 0.5}).delta == pytest.approx(0.0)
    same = paired_ttest({"a": 0.6, "b": 0.7}, {"a": 0.5, "b": 0.6 + 1e-15})  # constant difference: no variance
    assert math.isnan(same.p) and not same.significant
