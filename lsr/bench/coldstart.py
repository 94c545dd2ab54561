"""Searcher cold start: a fresh ``python`` process, from its start to its first search result.

The parent starts the child and notes the moment the child prints its first hit (interpreter
start, ``import lsr``, JVM start, opening the index and the first query all count; the JVM's
shutdown afterwards does not). The child also reports whether torch was imported. On a shared
machine wall time includes waiting for a core, so the child's CPU time (user + system, whole
process including the JVM's shutdown) is reported beside it.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lsr.bench.fresh_process import python_env

_CHILD = """
import sys
from lsr.search import Searcher
hits = Searcher.open(sys.argv[1]).search(sys.argv[2], k=10)
print(len(hits), "torch" in sys.modules, flush=True)
"""


def cold_start(index_dir: str | Path, query: str, repeats: int = 5) -> dict:
    """Median seconds from process start to the first result (over ``repeats`` fresh processes), and torch use."""
    seconds, cpu, torch_loaded = [], [], False
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        tick = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(index_dir), query], stdout=subprocess.PIPE, text=True, env=python_env())
        line = child.stdout.readline()
        seconds.append(time.perf_counter() - tick)
        child.communicate()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if child.returncode != 0 or not line:
            raise RuntimeError(f"cold-start child failed on {index_dir} (exit {child.returncode})")
        torch_loaded |= line.split()[1] == "True"
    return {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3), "runs": [round(s, 3) for s in seconds],
            "median_cpu_s": round(statistics.median(cpu), 3), "imports_torch": torch_loaded}


if __name__ == "__main__":  # python -m lsr.bench.coldstart INDEX "query"
    print(json.dumps(cold_start(sys.argv[1], sys.argv[2])))
