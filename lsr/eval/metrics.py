"""Retrieval metrics as BEIR computes them, through pytrec_eval (trec_eval's own code).

nDCG@10 is ``ndcg_cut_10``, R@100 is ``recall_100`` and MRR@10 is ``recip_rank`` over each
query's top 10. Unlike BEIR, a judged query with no hits at all counts as 0 instead of being
dropped from the mean.
"""

from __future__ import annotations

from statistics import fmean

import pytrec_eval

Run = dict[str, dict[str, float]]  # query id -> {doc id: score}
Qrels = dict[str, dict[str, int]]  # query id -> {doc id: grade}

METRICS = ("nDCG@10", "R@100", "MRR@10")


def drop_identical_ids(run: Run) -> Run:
    """Remove hits whose doc id equals the query id (BEIR does this for ArguAna and Quora)."""
    return {q: {d: s for d, s in hits.items() if d != q} for q, hits in run.items()}


def _top(hits: dict[str, float], k: int) -> dict[str, float]:
    return dict(sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:k])


def per_query(run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
    """Each metric for each judged query: metric -> {query id: value}."""
    run = {q: {d: float(s) for d, s in hits.items()} for q, hits in run.items() if q in qrels and hits}
    main = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    top10 = {q: _top(hits, 10) for q, hits in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    return {
        "nDCG@10": {q: main.get(q, {}).get("ndcg_cut_10", 0.0) for q in qrels},
        "R@100": {q: main.get(q, {}).get("recall_100", 0.0) for q in qrels},
        "MRR@10": {q: rr.get(q, {}).get("recip_rank", 0.0) for q in qrels},
    }


def evaluate(run: Run, qrels: Qrels, ignore_identical_ids: bool = False) -> dict[str, float]:
    """Mean nDCG@10, R@100 and MRR@10 over the judged queries."""
    if ignore_identical_ids:
        run = drop_identical_ids(run)
    return means(per_query(run, qrels))


def means(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over queries, from :func:`per_query`'s output."""
    return {metric: fmean(values.values()) if values else 0.0 for metric, values in scores.items()}
