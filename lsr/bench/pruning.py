"""Pruning table: relevance (nDCG@10 on a test split) against index size and latency.

Document-side levels are impact indexes rebuilt from the kept vectors of the unpruned index
(``vectors_from``: no re-encoding) with ``doc_top_k`` / ``doc_min_ratio``; query-side levels search
the unpruned index with ``query_top_k`` / ``query_min_ratio``. Latency is measured interleaved with
BM25 in the same run, so each row carries its ratio to BM25.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lsr.bench.latency import latency
from lsr.errors import LsrError
from lsr.eval.beir import Dataset
from lsr.eval.metrics import evaluate
from lsr.index.manifest import read_manifest
from lsr.index.recipe import IndexRecipe
from lsr.search.searcher import Searcher

# (label, top_k, min_ratio)
DOC_LEVELS = [("top-128 terms", 128, 0.0), ("top-64 terms", 64, 0.0), ("top-32 terms", 32, 0.0),
              ("weight >= 0.1 x max", None, 0.1), ("weight >= 0.3 x max", None, 0.3)]
QUERY_LEVELS = [("top-8 terms", 8, 0.0), ("top-4 terms", 4, 0.0), ("weight >= 0.5 x max", None, 0.5)]
QUERY_RATIOS = (0.05, 0.1, 0.15, 0.2, 0.3)  # candidates for the query-side operating point
FREE = 0.002  # nDCG@10 a pruning level may lose on the selection split and still count as free


def query_ratio_level(ratio: float) -> tuple[str, int | None, float]:
    """The pruning-table level of a query-side ``min_ratio``."""
    return (f"weight >= {ratio:g} x max", None, ratio)


def _scores(searcher: Searcher, queries: dict, qrels: dict, threads: int) -> dict:
    hits = searcher.batch_search(list(queries.values()), k=1000, threads=threads)
    run = {qid: {h.docid: h.score for h in found} for qid, found in zip(queries, hits)}
    return evaluate(run, qrels, ignore_identical_ids=True)


def choose_query_ratio(index: Path, dataset: Dataset, split: str = "train", ratios=QUERY_RATIOS, free: float = FREE, threads: int = 2) -> dict:
    """The largest query-side ``min_ratio`` whose nDCG@10 on ``split`` is within ``free`` of no pruning.

    Chosen on training queries so that the test split only reports what it costs there.
    """
    queries, qrels = dataset.queries(split), dataset.qrels(split)
    with Searcher.open(index) as searcher:
        full = _scores(searcher, queries, qrels, threads)["nDCG@10"]
    rows = [{"min_ratio": 0.0, f"nDCG@10 ({split})": round(full, 4)}]
    for ratio in ratios:
        with Searcher.open(index, query_min_ratio=ratio) as searcher:
            rows.append({"min_ratio": ratio, f"nDCG@10 ({split})": round(_scores(searcher, queries, qrels, threads)["nDCG@10"], 4)})
    chosen = max((r["min_ratio"] for r in rows if r[f"nDCG@10 ({split})"] >= round(full, 4) - free), default=0.0)
    return {"split": split, "free": free, "chosen": chosen, "rows": rows}


def pruned_index(recipe: IndexRecipe, dataset: Dataset, source: Path, out_dir: Path, top_k: int | None, min_ratio: float, threads: int) -> Path:
    """The pruned variant of ``source`` (built from its kept vectors unless an up-to-date one exists)."""
    from lsr.index.build import build_index

    suffix = f"top{top_k}" if top_k else f"ratio{min_ratio:g}"
    pruned = dataclasses.replace(recipe, name=f"{recipe.name}-{suffix}", doc_top_k=top_k, doc_min_ratio=min_ratio)
    output = out_dir / "bench" / "pruning" / dataset.name / pruned.name
    try:
        manifest = read_manifest(output)
        if manifest["recipe_fingerprint"] == pruned.fingerprint() and manifest["corpus"]["sha256"] == dataset.corpus_sha256:
            return output
    except LsrError:
        pass
    build_index(pruned, dataset, output, threads=threads, progress=False, vectors_from=source)
    return output


def pruning_table(recipe: IndexRecipe, dataset: Dataset, source: Path, bm25: Path, split: str, out_dir: Path,
                  repeats: int = 3, threads: int = 2, query_levels=QUERY_LEVELS) -> list[dict]:
    """One row per pruning level (plus the unpruned index): nDCG@10, terms/doc, index MiB, p50 latency and its ratio to BM25."""
    queries = dataset.queries(split)
    qrels = dataset.qrels(split)
    levels = [("none", "none", source, {})]
    levels += [(label, "none", pruned_index(recipe, dataset, source, out_dir, k, r, threads), {}) for label, k, r in DOC_LEVELS]
    levels += [("none", label, source, {"query_top_k": k, "query_min_ratio": r}) for label, k, r in query_levels]
    rows = []
    with Searcher.open(bm25) as bm25_searcher:
        for doc_label, query_label, index, options in levels:
            manifest = read_manifest(index)
            with Searcher.open(index, **options) as searcher:
                scores = _scores(searcher, queries, qrels, threads)
                timing = {k: latency({"BM25": bm25_searcher, "LSR": searcher}, list(queries.values()), k, repeats)["LSR"] for k in (10, 1000)}
                query_terms = sum(len(searcher.quantised(q)) for q in queries.values()) / len(queries)
            rows.append({
                "doc_pruning": doc_label, "query_pruning": query_label,
                "nDCG@10": round(scores["nDCG@10"], 4), "R@100": round(scores["R@100"], 4),
                "terms_per_doc": manifest.get("avg_doc_terms"), "terms_per_query": round(query_terms, 1),
                "index_mib": round(manifest["lucene_bytes"] / 2**20, 2),
                "p50_ms_k10": timing[10]["p50_ms"], "ratio_to_bm25_k10": timing[10]["p50_ratio_to_bm25"],
                "p50_ms_k1000": timing[1000]["p50_ms"], "ratio_to_bm25_k1000": timing[1000]["p50_ratio_to_bm25"],
            })
    return rows
