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
from pathlib import Path


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
