"""A hybrid "index": a directory whose manifest (kind ``hybrid``) points at a sparse index (and, for
an N-list hybrid, more of them under ``more_sparse``) and a dense index of the same documents and holds the fusion settings.
It is only a manifest, rewritten in a moment; the component indexes are built (or reused) on their own.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

from lsr.errors import LsrError
from lsr.index.manifest import SPARSE_KINDS, Manifest, building, index_bytes, read_manifest, write_manifest
from lsr.index.recipe import HybridRecipe
from lsr.version import __version__


def check_same_documents(sparse: dict, dense: dict, where: str = "hybrid") -> None:
    """LsrError unless two index manifests were built from the same corpus with the same documents."""
    for key, what in (("corpus", "corpus"), ("num_docs", "document count"), ("skipped_empty", "skipped empty documents")):
        a = sparse[key]["sha256"] if key == "corpus" else sparse[key]
        b = dense[key]["sha256"] if key == "corpus" else dense[key]
        if a != b:
            raise LsrError(f"{where}: the sparse and the dense index hold different documents ({what}: {a!r} vs {b!r}); "
                           "build both from the same corpus")


def build_hybrid(recipe: HybridRecipe, sparse_dir: str | os.PathLike, dense_dir: str | os.PathLike, output: str | os.PathLike,
                 more_sparse_dirs: tuple[str | os.PathLike, ...] = ()) -> Manifest:
    """Write the hybrid's manifest at ``output``, pointing at its component indexes; returns it."""
    started = time.perf_counter()
    output = Path(output)
    sparse, dense = read_manifest(sparse_dir), read_manifest(dense_dir)
    more = [read_manifest(d) for d in more_sparse_dirs]
    for directory, manifest in [(sparse_dir, sparse), *zip(more_sparse_dirs, more)]:
        if manifest["kind"] not in SPARSE_KINDS:
            raise LsrError(f"{directory}: the sparse side of a hybrid must be a BM25 or impact index, not {manifest['kind']}")
    if dense["kind"] != "dense":
        raise LsrError(f"{dense_dir}: the dense side of a hybrid must be a dense index, not {dense['kind']}")
    for manifest in [sparse, *more]:
        check_same_documents(manifest, dense, f"hybrid {recipe.name!r}")
    with building(output) as tmp:
        manifest = {
            "lsr_version": __version__,
            "recipe": {"name": recipe.name, "sparse": recipe.sparse.name, "dense": recipe.dense.name,
                       **({"more_sparse": [r.name for r in recipe.more_sparse]} if recipe.more_sparse else {})},
            "recipe_fingerprint": recipe.fingerprint(),
            "kind": "hybrid",
            "sparse": os.path.relpath(Path(sparse_dir).resolve(), output.resolve()),
            "dense": os.path.relpath(Path(dense_dir).resolve(), output.resolve()),
            **({"more_sparse": [os.path.relpath(Path(d).resolve(), output.resolve()) for d in more_sparse_dirs]} if more_sparse_dirs else {}),
            "fusion": asdict(recipe.fusion),
            "dataset": dense["dataset"],
            "corpus": dense["corpus"],
            "num_docs": dense["num_docs"],
            "index_bytes": sum(index_bytes(m) for m in [sparse, *more, dense]),
            "build_seconds": round(sum(m["build_seconds"] for m in [sparse, *more]) + dense["build_seconds"] + time.perf_counter() - started, 1),
        }
        write_manifest(tmp, manifest)
    return manifest
