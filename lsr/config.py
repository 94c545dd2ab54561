"""Where lsr reads and writes: the data root, the output folder and the per-user cache.

Each is an argument where one is given (``--data-dir``, ``--out-dir``), else an environment variable,
else a default that works outside this repository:

- data root: ``$LSR_DATA_DIR``, else ``<cache>/datasets`` (BEIR names missing there are fetched once
  with ir_datasets when online);
- output folder (indexes, runs, models, caches of a project): ``$LSR_OUT_DIR``, else ``./out``;
- cache (what outlives a checkout: datasets, the JVM's class-data archive): ``$LSR_CACHE_DIR``, else
  ``~/.cache/lsr``.
"""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

from lsr.errors import LsrError

MAX_THREADS = 512
"""The most threads lsr takes for indexing or searching: far more than the cores of a machine lsr runs on; Java refuses many more."""


def check_threads(threads: int, what: str = "threads") -> int:
    """``threads`` as an int; an LsrError naming ``what`` unless it is a whole number from 1 to :data:`MAX_THREADS`."""
    if isinstance(threads, bool) or not isinstance(threads, Integral) or not 1 <= threads <= MAX_THREADS:
        raise LsrError(f"{what} must be a whole number from 1 to {MAX_THREADS}, got {threads!r}")
    return int(threads)


def cache_dir() -> Path:
    """``$LSR_CACHE_DIR``, else ``~/.cache/lsr``."""
    return Path(os.environ.get("LSR_CACHE_DIR") or Path.home() / ".cache" / "lsr")


def data_root(override: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``override``, else ``$LSR_DATA_DIR``, else ``<cache>/datasets``."""
    if override:
        return Path(override)
    return Path(os.environ.get("LSR_DATA_DIR") or cache_dir() / "datasets")


def out_dir(override: str | os.PathLike | None = None) -> Path:
    """Where indexes, runs and models go: ``override``, else ``$LSR_OUT_DIR``, else ``out``."""
    return Path(override or os.environ.get("LSR_OUT_DIR") or "out")
