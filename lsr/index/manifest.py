"""The manifest that every lsr index directory carries (``manifest.json``).

It records what the index was built from (encoder, query side, scales, corpus checksum, lsr
version) so that a searcher opens it correctly and an evaluation can reuse it safely.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from lsr.errors import LsrError

MANIFEST = "manifest.json"
LUCENE_DIR = "lucene"
QUERY_DIR = "query"
VECTORS = "vectors.npy"  # dense: float32 document vectors
DOCIDS = "docids.json"  # dense: the document id of each row
FAISS_FILE = "index.faiss"  # dense: the faiss index


def read_manifest(index_dir: str | os.PathLike) -> dict:
    """The manifest of an index directory; a clear error if it is not a complete lsr index."""
    index_dir = Path(index_dir)
    path = index_dir / MANIFEST
    if not path.is_file():
        hint = " (an unfinished build?)" if index_dir.with_name(index_dir.name + ".partial").exists() else ""
        raise LsrError(f"{index_dir} is not an lsr index: {MANIFEST} is missing{hint}")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def directory_size(path: Path) -> int:
    """Bytes on disk under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextmanager
def building(output: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``output``; it replaces ``output`` only if the block completes."""
    output = Path(output)
    tmp = output.with_name(output.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = output.with_name(output.name + ".old")
    if output.exists():
        shutil.rmtree(old, ignore_errors=True)
        output.rename(old)
    tmp.rename(output)
    shutil.rmtree(old, ignore_errors=True)
