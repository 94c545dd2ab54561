"""Writing a file so that readers see the old version or the complete new one, never a half-written one."""

from __future__ import annotations

import glob
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PARTIAL = ".partial"


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary file beside ``path`` (same suffix); it replaces ``path`` only if the block completes.

    The temporary file's name is lsr's own, ``.<name>.<pid>.<random>.partial<suffix>``, created exclusively, so no
    file already there (a user's, another writer's) is written over or removed. The leftovers of a process that was
    killed while writing ``path`` (its pid no longer runs) are removed by the next write of ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    tmp = _create_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _create_beside(path: Path) -> Path:
    """A new empty file beside ``path`` with the process umask's permissions, as ``open(path, "w")`` would give."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL}{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue


def _remove_leftovers(path: Path) -> None:
    """Remove the temporary files of ``path`` left by writers that no longer run."""
    prefix = f".{path.name}."
    for leftover in path.parent.glob(f"{glob.escape(prefix)}*{PARTIAL}{glob.escape(path.suffix)}"):
        pid = leftover.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
