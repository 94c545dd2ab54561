"""Work timed in a fresh ``python`` process, the way a user's command pays for it: interpreter start and imports included."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lsr
from lsr.bench.memory import PeakRSS
from lsr.errors import LsrError

_CHILD = """
import pickle, sys
function, args = pickle.load(sys.stdin.buffer)
value = function(*args)
with open(sys.argv[1], "wb") as out:
    pickle.dump(value, out)
"""


def python_env() -> dict:
    """The environment of a child ``python`` that imports this lsr (its folder first on PYTHONPATH)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(lsr.__file__).parents[1]), os.environ.get("PYTHONPATH")]))}


def in_fresh_process(function, *args) -> tuple[float, int, object]:
    """``function(*args)`` (both picklable: a module-level function) run in a new ``python`` process: the seconds from its start
    to its end, the peak RSS of that process and those it started, and what ``function`` returned."""
    with tempfile.TemporaryDirectory(prefix="lsr-fresh-") as tmp, PeakRSS(include_self=False) as peak:
        value = Path(tmp) / "value.pickle"
        tick = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", _CHILD, str(value)], input=pickle.dumps((function, args)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=python_env())
        seconds = time.perf_counter() - tick
        if child.returncode != 0:
            raise LsrError(f"{function.__module__}.{function.__name__} failed in its own process (exit {child.returncode}): "
                           f"{child.stderr.decode(errors='replace').strip()[-2000:]}")
        return seconds, peak.bytes, pickle.loads(value.read_bytes())
