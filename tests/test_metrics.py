"""Metrics against hand-computed values."""

import math
import re

import pytest

from lsr.errors import LsrError
from lsr.eval.metrics import evaluate, per_query
from lsr.eval.runs import read_run, write_run

QRELS = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}, "q3": {"z": 1}}
RUN = {"q1": {"x": 3.0, "b": 2.0, "a": 1.0}, "q2": {"c": 0.5, "q2": 9.0}}


def test_hand_computed_values():
    values = per_query(RUN, QRELS)
    # q1 ranks x, b(2), a(1); trec_eval's gain is the grade itself (as in BEIR, via pytrec_eval)
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert values["nDCG@10"]["q1"] == pytest.approx(dcg / ideal)
    assert values["MRR@10"]["q1"] == pytest.approx(1 / 2)
    assert values["R@100"]["q1"] == 1.0
    # q2: the identical-id hit "q2" ranks first unless removed
    assert values["MRR@10"]["q2"] == pytest.approx(1 / 2)
    # q3 has no hits: it counts as 0
    assert values["nDCG@10"]["q3"] == 0.0


def test_identical_ids_removed_as_beir_does():
    kept = evaluate(RUN, QRELS)
    dropped = evaluate(RUN, QRELS, ignore_identical_ids=True)
    assert kept["MRR@10"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert dropped["MRR@10"] == pytest.approx((0.5 + 1.0 + 0) / 3)


def test_mrr_is_cut_at_10():
    run = {"q2": {f"n{i}": 100.0 - i for i in range(10)} | {"c": 1.0}}
    assert per_query(run, {"q2": {"c": 1}})["MRR@10"]["q2"] == 0.0


def test_run_file_round_trip(tmp_path):
    path = tmp_path / "runs" / "r.trec"
    write_run(RUN, path, tag="sys")
    assert path.read_text().splitlines()[0] == "q1 Q0 x 1 3.000000 sys"
    assert read_run(path) == RUN
    assert not list(tmp_path.rglob("*.partial*"))


@pytest.mark.parametrize("lines, message", [
    ("q1 Q0 d1 1 nan sys\n", "score 'nan' is not a finite number"),
    ("q1 Q0 d1 1 1e400 sys\n", "score '1e400' is not a finite number"),
    ("q1 Q0 d1 1 2.0 sys\nq1 Q0 d1 2 1.0 sys\n", "document 'd1' is ranked twice for query 'q1'"),
])
def test_a_run_file_with_scores_that_cannot_rank_is_a_clear_error(tmp_path, lines, message):
    path = tmp_path / "r.trec"
    path.write_text(lines, encoding="utf-8")
    with pytest.raises(LsrError, match=re.escape(f"{path}:") + r"\d: " + re.escape(message)):
        read_run(path)
