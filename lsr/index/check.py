"""Whether an index directory is whole: a manifest with what a searcher reads, and the files it names.

:func:`check_index` looks without opening anything heavy (no JVM, no faiss, no model): the manifest's keys,
the files' presence, and the sizes that a truncated copy gets wrong. Lucene's own files are checked when
Lucene opens them (:func:`lsr.search.lucene.check_readable`), a faiss file's contents when faiss reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from lsr.errors import LsrError
from lsr.index.manifest import DOCIDS, FAISS_FILE, KINDS, LUCENE_DIR, MANIFEST, MILVUS_LITE, SEISMIC_FILE, TERMS, VECTORS, Manifest, read_manifest
from lsr.recipe_files import Number

REQUIRED: dict[str, tuple[str, ...]] = {
    "bm25": ("num_docs", "query.k1", "query.b"),
    "impact": ("num_docs", "query.type", "query.scale"),
    "dense": ("num_docs", "query.model", "faiss.dim", "faiss.ef_search"),
    "hybrid": ("sparse", "dense", "fusion"),
    "seismic": ("num_docs", "query.type", "query.scale", "seismic"),
    "milvus": ("num_docs", "query.type", "query.scale", "milvus.uri", "milvus.collection"),
}
"""Per kind, the manifest keys (dotted: inside a section) that opening a searcher of that kind reads."""

NUMBERS = {"num_docs": Number(integer=True, low=0), "query.scale": Number(low=0, above=True), "query.k1": Number(low=0),
           "query.b": Number(low=0, high=1), "faiss.dim": Number(integer=True, low=1)}
"""The numbers among :data:`REQUIRED`'s keys, and what each must be."""

REUSE_KEYS = ("recipe_fingerprint", "corpus.sha256")
"""The keys that tell whether an index is up to date with a recipe and a corpus (:func:`lsr.eval.evaluate.ensure_index`)."""

QUERY_FILES = ("query.tokenizer", "query.weights", "query.lexical.weights", "query.onnx")
"""Manifest keys that, when present, name a file of the index (relative to its folder) that the query side reads."""


def damaged(index_dir: str | os.PathLike, what: str) -> LsrError:
    """The error for an index directory that cannot be searched: what is wrong, and what to do."""
    return LsrError(f"{index_dir}: a damaged lsr index: {what}; rebuild it (lsr index ... --output {index_dir})")


def check_index(index_dir: str | os.PathLike, keys: tuple[str, ...] = ()) -> Manifest:
    """The manifest of ``index_dir`` once the index is whole (:data:`REQUIRED` keys and ``keys``, its files, their
    sizes); else an LsrError naming the folder and what is missing or damaged."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise damaged(index_dir, f"{MANIFEST} has 'kind' {kind!r}, not one of {', '.join(KINDS)}")
    missing = [key for key in (*REQUIRED[kind], *keys) if lookup(manifest, key) is None]
    if missing:
        raise damaged(index_dir, f"{MANIFEST} lacks {', '.join(missing)}")
    for key, number in NUMBERS.items():
        value = lookup(manifest, key)
        if key in REQUIRED[kind] and not number.allows(value):
            raise damaged(index_dir, f"{MANIFEST}'s {key} is {value!r}, not {number.describe()}")
    for key in QUERY_FILES:
        name = lookup(manifest, key)
        if name is not None and not (index_dir / name).is_file():
            raise damaged(index_dir, f"{name} (the manifest's {key}) is missing")
    if kind in ("bm25", "impact"):
        _check_lucene_folder(index_dir)
    elif kind == "dense":
        _check_dense_files(index_dir, manifest)
    elif kind in ("seismic", "milvus"):
        for name in (SEISMIC_FILE, TERMS) if kind == "seismic" else (TERMS,):
            if not (index_dir / name).is_file():
                raise damaged(index_dir, f"{name} is missing")
        if kind == "milvus" and manifest["milvus"]["uri"] == MILVUS_LITE and not (index_dir / MILVUS_LITE).is_dir():
            raise damaged(index_dir, f"its milvus-lite folder {MILVUS_LITE}/ is missing")
    return manifest


def lookup(manifest: dict, key: str):
    """The value at a dotted ``key`` (``corpus.sha256``), or None where any part is missing."""
    value = manifest
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _check_lucene_folder(index_dir: Path) -> None:
    """The Lucene folder is there and holds a commit point (``segments_N``)."""
    lucene = index_dir / LUCENE_DIR
    if not lucene.is_dir():
        raise damaged(index_dir, f"its Lucene folder {LUCENE_DIR}/ is missing")
    if not any(lucene.glob("segments_*")):
        raise damaged(index_dir, f"{LUCENE_DIR}/ holds no segments_N file (Lucene's commit point)")


def _check_dense_files(index_dir: Path, manifest: Manifest) -> None:
    """The dense files are there; ``vectors.npy`` holds ``num_docs`` x ``faiss.dim`` vectors whole, ``docids.json`` opens
    and closes a list, and ``index.faiss`` is at least as large as the vectors it stores."""
    for name in (VECTORS, DOCIDS, FAISS_FILE):
        if not (index_dir / name).is_file():
            raise damaged(index_dir, f"{name} is missing")
    rows, dim = manifest["num_docs"], manifest["faiss"]["dim"]
    shape, expected, size = _npy_layout(index_dir / VECTORS)
    if shape != (rows, dim):
        raise damaged(index_dir, f"{VECTORS} holds an array of shape {shape}, not the manifest's {rows} x {dim}")
    if size != expected:
        raise damaged(index_dir, f"{VECTORS} is {size} bytes, not the {expected} its header announces (truncated?)")
    with open(index_dir / DOCIDS, "rb") as handle:
        first = handle.read(1)
        handle.seek(max(0, (index_dir / DOCIDS).stat().st_size - 16))
        last = handle.read().rstrip()[-1:]
    if (first, last) != (b"[", b"]"):
        raise damaged(index_dir, f"{DOCIDS} is not a whole JSON list (truncated?)")
    faiss_size = (index_dir / FAISS_FILE).stat().st_size
    if faiss_size < rows * dim * 4:
        raise damaged(index_dir, f"{FAISS_FILE} is {faiss_size} bytes, less than the {rows * dim * 4} its {rows} vectors need (truncated?)")


def read_doc_ids(index_dir: str | os.PathLike, manifest: Manifest) -> list[str]:
    """A dense index's document ids (row i of its vectors is ``doc_ids[i]``): a list of the manifest's ``num_docs``
    strings, else a damaged index."""
    import json

    try:
        doc_ids = json.loads((Path(index_dir) / DOCIDS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise damaged(index_dir, f"{DOCIDS} cannot be read ({error})") from None
    if not isinstance(doc_ids, list) or len(doc_ids) != manifest["num_docs"] or not all(isinstance(d, str) for d in doc_ids):
        raise damaged(index_dir, f"{DOCIDS} does not hold the manifest's {manifest['num_docs']} document ids")
    return doc_ids


def _npy_layout(path: Path) -> tuple[tuple, int, int]:
    """(shape, the file size its header announces, its actual size) of a ``.npy`` file; a damaged header is a damaged index."""
    import numpy as np

    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            offset = handle.tell()
    except (OSError, ValueError) as error:
        raise damaged(path.parent, f"{path.name} is not a readable numpy array ({error})") from None
    count = 1
    for extent in shape:
        count *= extent
    return tuple(shape), offset + count * dtype.itemsize, path.stat().st_size
