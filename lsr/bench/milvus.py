"""``lsr bench``'s Milvus part: lsr's default index written into a Milvus collection (:mod:`lsr.index.milvus`), against Lucene.

The collection is the embedded milvus-lite's (nothing to start): SciFact test nDCG@10 through it and through Lucene's
exhaustive search of the same vectors, the share of queries whose top 10 is the same, the time to write it, and single-thread
latency at k=10 beside BM25's. milvus-lite is Milvus' development engine (pure Python); a Milvus server's latency is its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from lsr.index.manifest import read_manifest


def milvus_collection(source: Path, output: Path) -> Path:
    """``output``, the milvus-lite collection of impact index ``source``, written unless one of the same source build is there."""
    from lsr.index.milvus import build_milvus
    from lsr.index.vectors import derived_from

    if derived_from(output, source, "milvus") is None:
        build_milvus(source, output, progress=False)
    return output


def milvus_bench(dataset, default_index: Path, bm25_index: Path, queries: Sequence[str], out_dir: Path, repeats: int,
                 say: Callable[[str], None]) -> dict:
    """The Milvus part of ``lsr bench`` (module docstring)."""
    from lsr.bench.latency import latency
    from lsr.bench.relevance import ndcg10_on_test
    from lsr.search import Searcher

    say("Milvus: lsr's default index written into milvus-lite")
    output = milvus_collection(default_index, out_dir / "bench" / "milvus" / "scifact")
    with Searcher.open(default_index, exhaustive=True) as lucene, Searcher.open(output) as milvus, Searcher.open(bm25_index) as bm25:
        (lucene_ndcg, lucene_top), (milvus_ndcg, milvus_top) = ndcg10_on_test(lucene, dataset), ndcg10_on_test(milvus, dataset)
        timed = latency({"BM25": bm25, "Lucene, exhaustive": lucene, "Milvus (milvus-lite)": milvus}, queries, 10, repeats)
    same = sum(set(lucene_top[q]) == set(milvus_top[q]) for q in lucene_top)
    return {"scifact_ndcg10": {"Lucene, exhaustive": lucene_ndcg, "Milvus": milvus_ndcg},
            "same_top10": round(same / max(1, len(lucene_top)), 4), "queries": len(lucene_top),
            "num_docs": read_manifest(output)["num_docs"], "write_seconds": read_manifest(output)["build_seconds"], "latency_k10": timed}
