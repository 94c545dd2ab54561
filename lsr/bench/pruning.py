"""Pruning: the operating point chosen on training queries, and the table of relevance (nDCG@10 on a
test split) against index size and latency.

Document-side levels are impact indexes rebuilt from the kept vectors of the unpruned index
(``vectors_from``: no re-encoding) with ``doc_top_k`` / ``doc_min_ratio``; query-side levels search
the unpruned index with ``query_top_k`` / ``query_min_ratio``, or two-phase (the heavy query terms
find candidates, all the terms score them: :class:`lsr.search.searcher.TwoPhase`). Latency is
measured beside BM25 in the same run, so each row carries its ratio to BM25.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lsr.bench.latency import latency
from lsr.data import Dataset
from lsr.errors import LsrError
from lsr.eval.metrics import evaluate
from lsr.index.manifest import index_bytes, read_manifest
from lsr.index.recipe import IndexRecipe
from lsr.search.searcher import Searcher, TwoPhase

# (label, top_k, min_ratio)
DOC_LEVELS = [("top-128 terms", 128, 0.0), ("top-64 terms", 64, 0.0), ("top-32 terms", 32, 0.0),
              ("weight >= 0.1 x max", None, 0.1), ("weight >= 0.3 x max", None, 0.3)]
TWO_PHASE = TwoPhase()  # OpenSearch's defaults: heavy terms >= 0.4 x max find 5 x k candidates
# (label, Searcher.open options)
QUERY_LEVELS = [("top-8 terms", {"query_top_k": 8}), ("top-4 terms", {"query_top_k": 4}), ("weight >= 0.5 x max", {"query_min_ratio": 0.5}),
                ("two-phase, >= 0.4 x max, 5k candidates", {"two_phase": TWO_PHASE}),
                ("two-phase, >= 0.5 x max, 3k candidates", {"two_phase": TwoPhase(0.5, 3.0)})]
DOC_RATIOS = (0.0, 0.1, 0.2, 0.3)  # candidates for the operating point, documents...
QUERY_RATIOS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)  # ... and queries
FREE = 0.002  # nDCG@10 a pruning level may lose on the selection split and still count as free
FAST_MAX_DF = (1.0, 0.5, 0.3)  # query_max_df candidates for the fast operating point...
FAST_TWO_PHASE = (None, (0.4, 5.0), (0.5, 5.0), (0.5, 3.0))  # ... and two-phase (ratio, expansion) candidates


def ratio_level(ratio: float) -> tuple[str, int | None, float] | None:
    """The pruning-table document level of a ``min_ratio`` (None for no pruning)."""
    return (f"weight >= {ratio:g} x max", None, ratio) if ratio else None


def query_ratio_level(ratio: float) -> tuple[str, dict] | None:
    """The pruning-table query level of a ``query_min_ratio`` (None for no pruning)."""
    return (f"weight >= {ratio:g} x max", {"query_min_ratio": ratio}) if ratio else None


def _scores(searcher: Searcher, queries: dict, qrels: dict, threads: int, metrics=(("nDCG@10", 10), ("R@100", 100))) -> dict:
    """Each metric from a search at its own depth (nDCG@10 of a top-10 search...): two-phase search finds other hits at other depths."""
    scores = {}
    for metric, k in metrics:
        hits = searcher.batch_search(list(queries.values()), k=k, threads=threads)
        run = {qid: {h.docid: h.score for h in found} for qid, found in zip(queries, hits)}
        scores[metric] = evaluate(run, qrels, ignore_identical_ids=True)[metric]
    return scores


def choose_pruning(recipe: IndexRecipe, dataset: Dataset, source: Path, out_dir: Path, split: str = "train",
                   doc_ratios=DOC_RATIOS, query_ratios=QUERY_RATIOS, free: float = FREE, threads: int = 2) -> dict:
    """The document- and query-side ``min_ratio`` pair that touches the fewest postings per query while its
    nDCG@10 on ``split`` stays within ``free`` of no pruning.

    Every pair of ``doc_ratios`` x ``query_ratios`` is scored on ``split`` (training queries, so that
    the test split only reports what the choice costs there); postings per query are the sum of the
    query terms' document frequencies, the work a search cannot avoid without skipping.
    """
    from lsr.eval.efficiency import sparse_stats

    queries, qrels = dataset.queries(split), dataset.qrels(split)
    column = f"nDCG@10 ({split})"
    rows = []
    for doc_ratio in sorted({0.0, *doc_ratios}):
        index = pruned_index(recipe, dataset, source, out_dir, None, doc_ratio, threads) if doc_ratio else source
        num_docs = read_manifest(index)["num_docs"]
        for query_ratio in sorted({0.0, *query_ratios}):
            with Searcher.open(index, query_min_ratio=query_ratio) as searcher:
                ndcg = _scores(searcher, queries, qrels, threads, metrics=(("nDCG@10", 10),))["nDCG@10"]
                postings = sparse_stats(searcher, list(queries.values()))["flops"] * num_docs
            rows.append({"doc_min_ratio": doc_ratio, "query_min_ratio": query_ratio, column: round(ndcg, 4),
                         "postings_per_query": round(postings)})
    floor = rows[0][column] - free  # rows[0]: no pruning at all
    chosen = min((r for r in rows if r[column] >= floor), key=lambda r: (r["postings_per_query"], -r[column]))
    return {"split": split, "free": free, "chosen": {key: chosen[key] for key in ("doc_min_ratio", "query_min_ratio")}, "rows": rows}


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


def default_levels() -> list[tuple]:
    """The pruning table's rows: no pruning, each document level alone, each query level alone."""
    return [(None, None)] + [(level, None) for level in DOC_LEVELS] + [(None, level) for level in QUERY_LEVELS]


def pruning_table(recipe: IndexRecipe, dataset: Dataset, source: Path, bm25: Path, split: str, out_dir: Path,
                  repeats: int = 3, threads: int = 2, levels=None) -> list[dict]:
    """One row per ``(document level, query level)`` pair (default :func:`default_levels`; a document level is
    ``(label, top_k, min_ratio)``, a query level ``(label, Searcher.open options)``, either may be None):
    nDCG@10, terms/doc, index MiB, p50 latency and its ratio to BM25."""
    queries = dataset.queries(split)
    qrels = dataset.qrels(split)
    rows = []
    with Searcher.open(bm25) as bm25_searcher:
        for doc, query in levels or default_levels():
            index = pruned_index(recipe, dataset, source, out_dir, doc[1], doc[2], threads) if doc else source
            options = query[1] if query else {}
            manifest = read_manifest(index)
            with Searcher.open(index, **options) as searcher:
                scores = _scores(searcher, queries, qrels, threads)
                timing = {k: latency({"BM25": bm25_searcher, "LSR": searcher}, list(queries.values()), k, repeats)["LSR"] for k in (10, 1000)}
                query_terms = sum(len(searcher.quantised(q)) for q in queries.values()) / len(queries)
            rows.append({
                "doc_pruning": doc[0] if doc else "none", "query_pruning": query[0] if query else "none",
                "nDCG@10": round(scores["nDCG@10"], 4), "R@100": round(scores["R@100"], 4),
                "terms_per_doc": manifest.get("avg_doc_terms"), "terms_per_query": round(query_terms, 1),
                "index_mib": round(index_bytes(manifest) / 2**20, 2),
                "p50_ms_k10": timing[10]["p50_ms"], "ratio_to_bm25_k10": timing[10]["p50_ratio_to_bm25"],
                "p50_ms_k1000": timing[1000]["p50_ms"], "ratio_to_bm25_k1000": timing[1000]["p50_ratio_to_bm25"],
            })
    return rows


def fast_candidates(query_min_ratio: float, max_dfs=FAST_MAX_DF, two_phases=FAST_TWO_PHASE) -> list[dict]:
    """Query-side settings for :func:`choose_fast` (JSON-ready; :func:`searcher_options` turns one into ``Searcher.open`` options)."""
    return [{"query_min_ratio": query_min_ratio, "query_max_df": max_df, "two_phase": list(two_phase) if two_phase else None}
            for max_df in max_dfs for two_phase in two_phases]


def searcher_options(settings: dict) -> dict:
    """The ``Searcher.open`` keyword arguments of a :func:`fast_candidates` setting."""
    return {"query_min_ratio": settings["query_min_ratio"], "query_max_df": settings["query_max_df"],
            "two_phase": TwoPhase(*settings["two_phase"]) if settings["two_phase"] else None}


def settings_label(settings: dict) -> str:
    """A short human name for a :func:`fast_candidates` setting."""
    parts = [f"queries >= {settings['query_min_ratio']:g} x max"]
    if settings["query_max_df"] < 1:
        parts.append(f"terms in <= {settings['query_max_df']:g} of docs")
    if settings["two_phase"]:
        parts.append("two-phase >= {:g} x max, {:g}k candidates".format(*settings["two_phase"]))
    return ", ".join(parts)


def choose_fast(small_index: Path, large_index: Path, large_bm25: Path, dataset: Dataset, candidates: list[dict],
                split: str = "train", report_split: str = "test", queries: int = 300, repeats: int = 3, threads: int = 2) -> dict:
    """The query-side setting with the best nDCG@10 on ``split`` among those whose p50 latency on the large
    (synthetic) corpus is at most BM25's at k=10 and k=1000, measured with ``split``'s queries.

    ``small_index`` (SciFact) gives relevance, ``large_index`` beside ``large_bm25`` the latency; each row also
    carries nDCG@10 on ``report_split``, which only reports what a setting costs. See :func:`pick_fast`.
    """
    texts = list(dataset.queries(split).values())[:queries]
    rows = []
    for settings in candidates:
        row = {"setting": settings_label(settings), "settings": settings}
        with Searcher.open(small_index, **searcher_options(settings)) as searcher:
            for name in (split, report_split):
                scores = _scores(searcher, dataset.queries(name), dataset.qrels(name), threads, (("nDCG@10", 10),))
                row[f"nDCG@10 ({name})"] = round(scores["nDCG@10"], 4)
        rows.append(row)
    searchers = {"BM25": Searcher.open(large_bm25)}
    searchers.update({row["setting"]: Searcher.open(large_index, **searcher_options(row["settings"])) for row in rows})
    try:
        for k in (10, 1000):
            timing = latency(searchers, texts, k, repeats)
            for row in rows:
                row[f"ratio_to_bm25_k{k}"] = timing[row["setting"]]["p50_ratio_to_bm25"]
    finally:
        for searcher in searchers.values():
            searcher.close()
    chosen, meets = pick_fast(rows, f"nDCG@10 ({split})")
    return {"split": split, "queries": len(texts), "large_index": str(large_index), "chosen": chosen["settings"], "label": chosen["setting"],
            "meets_bm25_latency": meets, "rows": rows}


def pick_fast(rows: list[dict], column: str) -> tuple[dict, bool]:
    """The row with the best ``column`` among those at most BM25's latency at both k (ties: the faster), and True;
    when none is, the row fastest at its slower k, and False."""
    slower = lambda row: max(row["ratio_to_bm25_k10"], row["ratio_to_bm25_k1000"])  # noqa: E731
    within = [row for row in rows if slower(row) <= 1.0]
    if within:
        return max(within, key=lambda row: (row[column], -slower(row))), True
    return min(rows, key=slower), False
