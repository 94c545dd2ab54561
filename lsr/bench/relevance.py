"""Relevance figures that bench parts share: a searcher's nDCG@10 on a dataset's test queries."""

from __future__ import annotations


def ndcg10_on_test(searcher, dataset) -> tuple[float, dict[str, list[str]]]:
    """nDCG@10 of ``searcher`` on ``dataset``'s judged test queries, and each one's top 10 document ids."""
    from lsr.eval.metrics import evaluate

    queries, qrels = dataset.queries("test"), dataset.qrels("test")
    ids = [q for q in qrels if q in queries]
    hits = dict(zip(ids, searcher.batch_search([queries[q] for q in ids], 10)))
    ndcg = evaluate({q: {h.docid: h.score for h in found} for q, found in hits.items()}, qrels)["nDCG@10"]
    return round(ndcg, 4), {q: [h.docid for h in found] for q, found in hits.items()}
