"""Seismic against Lucene: lsr's default index (shipped model + BM25 channel) as a Seismic index, on SciFact and at scale.

The Seismic indexes are built with Seismic's default build settings (:class:`lsr.index.seismic.SeismicSettings`)
from the Lucene index's kept vectors on SciFact, and from the same synthetic vectors as the synthetic Lucene index
(:func:`lsr.bench.synthetic.synthetic_chunks`), so both engines hold the same documents. The search knobs are chosen
on SciFact *train* queries over the synthetic corpus: of :data:`GRID`, the fastest p50 whose recall@10 against
Lucene's exhaustive search reaches :data:`TARGET_RECALL` (else the one of best recall). Then, with that setting, on
the test queries: SciFact nDCG@10 through Seismic and through Lucene's exhaustive search of the same vectors, and on
the synthetic corpus p50 latency at k=10 against BM25 and recall@10 against the exhaustive search.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Sequence

from lsr.index.manifest import read_manifest

GRID = ((10, 0.8), (10, 0.7), (15, 0.7), (15, 0.6), (20, 0.6), (20, 0.5))
"""(query_cut, heap_factor) pairs, roughly from fastest to most exact."""
TARGET_RECALL = 0.98


def seismic_index(source: Path, output: Path, chunks: Callable | None = None, threads: int = 2) -> Path:
    """``output``, a Seismic index of impact index ``source`` (``chunks()``: its vectors, when not its kept ones), built unless
    one of the same source build and default settings is there."""
    from lsr.index.seismic import SeismicSettings, build_seismic
    from lsr.index.vectors import derived_from

    manifest = derived_from(output, source, "seismic")
    if manifest is not None and SeismicSettings(**manifest["seismic"]) == SeismicSettings():  # settings added since: their defaults
        return output
    build_seismic(source, output, chunks=chunks() if chunks else None, threads=threads)
    return output


def recall_at_10(searcher, queries: Sequence[str], exact: list[list[str]]) -> float:
    """The share of the exact top 10s that ``searcher`` finds in its own top 10s."""
    found = sum(len(set(want) & {hit.docid for hit in searcher.search(query, 10)}) for query, want in zip(queries, exact))
    return round(found / max(1, sum(len(want) for want in exact)), 4)


def seismic_bench(dataset, default_index: Path, synthetic_default: Path, synthetic_bm25: Path, test_queries: Sequence[str],
                  train_queries: Sequence[str], out_dir: Path, repeats: int, threads: int, say: Callable[[str], None]) -> dict:
    """The Seismic part of ``lsr bench`` (module docstring): the choice on train, then SciFact and synthetic figures on test."""
    from lsr.bench.latency import latency
    from lsr.bench.relevance import ndcg10_on_test
    from lsr.bench.synthetic import synthetic_chunks
    from lsr.search import Searcher

    synthetic = read_manifest(synthetic_default)["synthetic"]
    say("Seismic index of SciFact's default index")
    small = seismic_index(default_index, out_dir / "bench" / "seismic" / "scifact", threads=threads)
    say(f"Seismic index of the synthetic corpus ({synthetic['num_docs']} documents)")
    large = seismic_index(synthetic_default, synthetic_default.with_name(synthetic_default.name + "-seismic"), threads=threads,
                          chunks=lambda: synthetic_chunks(default_index, synthetic["num_docs"], synthetic["seed"], synthetic["doc_min_ratio"]))
    with contextlib.ExitStack() as opened:
        bm25 = opened.enter_context(Searcher.open(synthetic_bm25))
        exact = opened.enter_context(Searcher.open(synthetic_default, exhaustive=True))
        default = opened.enter_context(Searcher.open(synthetic_default))
        seismic = opened.enter_context(Searcher.open(large))
        grid = {f"query_cut {cut}, heap_factor {factor:g}": seismic.with_settings(query_cut=cut, heap_factor=factor) for cut, factor in GRID}
        say("Seismic: the search setting, on SciFact train queries over the synthetic corpus")
        want = [[hit.docid for hit in exact.search(query, 10)] for query in train_queries]
        recall = {name: recall_at_10(searcher, train_queries, want) for name, searcher in grid.items()}
        timed = latency({"BM25": bm25, **grid}, train_queries, 10, repeats)
        rows = [{"setting": name, "train recall@10": recall[name], "train p50 ms": timed[name]["p50_ms"],
                 "train p50 / BM25": timed[name]["p50_ratio_to_bm25"]} for name in grid]
        meeting = [row for row in rows if row["train recall@10"] >= TARGET_RECALL]
        chosen = min(meeting, key=lambda row: row["train p50 ms"]) if meeting else max(rows, key=lambda row: row["train recall@10"])
        cut, factor = GRID[list(grid).index(chosen["setting"])]
        say(f"Seismic at {chosen['setting']}: test queries")
        searcher = grid[chosen["setting"]]
        want = [[hit.docid for hit in exact.search(query, 10)] for query in test_queries]
        test = {"recall_at_10": recall_at_10(searcher, test_queries, want),
                "latency_k10": latency({"BM25": bm25, "Lucene, exhaustive": exact, "Lucene, two-phase (lsr's default)": default,
                                        "Seismic": searcher}, test_queries, 10, repeats)}
    with Searcher.open(default_index, exhaustive=True) as lucene, Searcher.open(small) as seismic:
        scored = {name: ndcg10_on_test(s, dataset)[0]
                  for name, s in (("Lucene, exhaustive", lucene), ("Seismic", seismic.with_settings(query_cut=cut, heap_factor=factor)))}
    return {"target_recall": TARGET_RECALL, "grid": rows, "chosen": {"query_cut": cut, "heap_factor": factor, "met_target": bool(meeting)},
            "scifact_ndcg10": scored, "synthetic": {"num_docs": synthetic["num_docs"], **test},
            "index_mib": {"scifact": round(read_manifest(small)["index_bytes"] / 2**20, 1),
                          "synthetic": round(read_manifest(large)["index_bytes"] / 2**20, 1)},
            "build_seconds": {"scifact": read_manifest(small)["build_seconds"], "synthetic": read_manifest(large)["build_seconds"]}}
