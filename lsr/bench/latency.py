"""Query latency (single thread, one system at a time) and batch throughput of open searchers.

Each pass times every system on all the queries in turn, one system after the other (the order
rotates from pass to pass), so that a system runs with its own data in the CPU caches, as a server
of one index would. Interleaving systems query by query would let one index evict another's data
between two queries, so that a ratio would depend on how many systems are timed together. The
machine may be shared, so every figure is the median over ``repeats`` passes and each ratio to
BM25 is taken within a pass before the median is taken.
"""

from __future__ import annotations

import statistics
import time
from typing import Sequence

import numpy as np

from lsr.search.searcher import Searcher

WARM_UP = 100  # queries searched by every system before timing


def _percentiles(values_ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(values_ms, 50)), float(np.percentile(values_ms, 95))


def latency(searchers: dict[str, Searcher], queries: Sequence[str], k: int, repeats: int = 3, baseline: str = "BM25") -> dict:
    """p50/p95 ms per system and p50 ratio to ``baseline``: medians over ``repeats`` passes."""
    names = list(searchers)
    for query in queries[:WARM_UP]:  # the JIT compiles Lucene's scoring loops, pages come into cache
        for name in names:
            searchers[name].search(query, k)
    passes = []
    for repeat in range(repeats):
        times: dict[str, list[float]] = {name: [] for name in names}
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            search = searchers[name].search
            for query in queries[:WARM_UP // 10]:  # this system's data back into the caches
                search(query, k)
            for query in queries:
                tick = time.perf_counter()
                search(query, k)
                times[name].append((time.perf_counter() - tick) * 1000)
        passes.append({name: _percentiles(values) for name, values in times.items()})
    result = {}
    for name in names:
        result[name] = {
            "p50_ms": round(statistics.median(p[name][0] for p in passes), 3),
            "p95_ms": round(statistics.median(p[name][1] for p in passes), 3),
        }
        if baseline in names:
            result[name]["p50_ratio_to_bm25"] = round(statistics.median(p[name][0] / p[baseline][0] for p in passes), 3)
    return result


def throughput(searchers: dict[str, Searcher], queries: Sequence[str], k: int, threads: Sequence[int] = (1, 2), repeats: int = 3) -> dict:
    """Queries per second of ``batch_search`` per system and thread count (median over interleaved repeats)."""
    qps: dict[str, dict[int, list[float]]] = {name: {t: [] for t in threads} for name in searchers}
    for _ in range(repeats):
        for name, searcher in searchers.items():
            for t in threads:
                tick = time.perf_counter()
                searcher.batch_search(list(queries), k=k, threads=t)
                qps[name][t].append(len(queries) / (time.perf_counter() - tick))
    return {name: {f"{t}_threads_qps": round(statistics.median(values), 1) for t, values in by_threads.items()} for name, by_threads in qps.items()}
