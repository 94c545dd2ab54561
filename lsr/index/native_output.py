"""Output that native code (Seismic's Rust, Ray's C++ core) writes straight to a file descriptor, past Python's logging."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager


@contextmanager
def native_output_redirected(fd: int):
    """Within the block, send what is written on file descriptor ``fd`` (1: stdout, which ``lsr`` keeps for its results;
    2: stderr) to stderr while lsr's log shows progress (INFO), and nowhere when it does not (``--quiet``)."""
    (sys.stdout if fd == 1 else sys.stderr).flush()
    saved = os.dup(fd)
    target = 2 if logging.getLogger("lsr").isEnabledFor(logging.INFO) else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        if target != 2:
            os.close(target)
