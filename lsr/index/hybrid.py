"""A hybrid "index": a directory whose manifest (kind ``hybrid``) points at a sparse and a dense index
of the same documents and holds the fusion settings. It is only a manifest, rewritten in a moment;
the component indexes are built (or reused) on their own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import lsr
from lsr.errors import LsrError
from lsr.index.manifest import MANIFEST, building, read_manifest
from lsr.index.recipe import HybridRecipe

SPARSE_KINDS = ("bm25", "impact")


def check_same_documents(sparse: dict, dense: dict, where: str = "hybrid") -> None:
    """LsrError unless two index manifests were built from the same corpus with the same documents."""
    for key, what in (("corpus", "corpus"), ("num_docs", "document count"), ("skipped_empty", "skipped empty documents")):
        a = sparse[key]["sha256"] if key == "corpus" else sparse[key]
        b = dense[key]["sha256"] if key == "corpus" else dense[key]
        if a != b:
            raise LsrError(f"{where}: the sparse and the dense index hold different documents ({what}: {a!r} vs {b!r}); "
                           "build both from the same corpus")


def build_hybrid(recipe: HybridRecipe, sparse_dir: str | os.PathLike, dense_dir: str | os.PathLike, output: str | os.PathLike) -> dict:
    """Write the hybrid's manifest at ``output``, pointing at its two component indexes; returns it."""
    started = time.perf_counter()
    output = Path(output)
    sparse, dense = read_manifest(sparse_dir), read_manifest(dense_dir)
    if sparse["kind"] not in SPARSE_KINDS:
        raise LsrError(f"{sparse_dir}: the sparse side of a hybrid must be a BM25 or impact index, not {sparse['kind']}")
    if dense["kind"] != "dense":
        raise LsrError(f"{dense_dir}: the dense side of a hybrid must be a dense index, not {dense['kind']}")
    check_same_documents(sparse, dense, f"hybrid {recipe.name!r}")
    with building(output) as tmp:
        manifest = {
            "lsr_version": lsr.__version__,
            "recipe": {"name": recipe.name, "sparse": recipe.sparse.name, "dense": recipe.dense.name},
            "recipe_fingerprint": recipe.fingerprint(),
            "kind": "hybrid",
            "sparse": os.path.relpath(Path(sparse_dir).resolve(), output.resolve()),
            "dense": os.path.relpath(Path(dense_dir).resolve(), output.resolve()),
            "fusion": asdict(recipe.fusion),
            "dataset": dense["dataset"],
            "corpus": dense["corpus"],
            "num_docs": dense["num_docs"],
            "index_bytes": sparse.get("lucene_bytes", 0) + dense["index_bytes"],
            "build_seconds": round(sparse["build_seconds"] + dense["build_seconds"] + time.perf_counter() - started, 1),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
