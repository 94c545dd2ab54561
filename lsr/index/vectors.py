"""What indexes for other engines (Seismic, Milvus) are derived from: an impact index's kept vectors and its query side.

``lsr index ... --keep-vectors`` keeps each document's quantised term weights (BM25 channel included) as JSON lines under
``collection/``; :func:`kept_vectors` reads them back in chunks. :func:`derived_manifest` copies the source's query side
(tokenizer, IDF table, lexical table) and writes the manifest that lets ``Searcher.open`` weigh queries as the source does.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from lsr.errors import LsrError
from lsr.index.manifest import QUERY_DIR, Manifest, directory_size, read_manifest
from lsr.version import __version__

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

CHUNK = 10_000  # documents per chunk of kept vectors


def impact_source(source: Path, what: str) -> Manifest:
    """The manifest of ``source``, an impact index that ``what`` (e.g. "a Seismic index") is built from; else an LsrError."""
    manifest = read_manifest(source)
    if manifest["kind"] != "impact":
        raise LsrError(f"{source}: {what} is built from an impact index, not a {manifest['kind']} one")
    return manifest


def kept_vectors(index_dir: Path) -> Iterator[tuple[list[str], sp.csr_matrix, np.ndarray]]:
    """The kept vectors of impact index ``index_dir``, as (doc ids, rows, column names) chunks of :data:`CHUNK` documents;
    a damaged index unless every line reads as a document's vector and they are the manifest's ``num_docs``."""
    from lsr.index.check import damaged

    shards = sorted((index_dir / "collection").glob("*.jsonl"))
    if not shards:
        raise LsrError(f"{index_dir}: no kept vectors to build from (build the index with lsr index ... --keep-vectors)")
    ids: list[str] = []
    vectors: list[dict] = []
    count = 0
    for shard in shards:
        try:
            with open(shard, encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    if not isinstance(record.get("id"), str) or not isinstance(record.get("vector"), dict):
                        raise ValueError("not an object with a string id and a vector")
                    ids.append(record["id"])
                    vectors.append(record["vector"])
                    if len(ids) == CHUNK:
                        count += len(ids)
                        yield _rows(ids, vectors)
                        ids, vectors = [], []
        except (ValueError, AttributeError) as error:  # JSON, UTF-8 or a record of another shape
            raise damaged(index_dir, f"its kept vectors {shard.relative_to(index_dir)} cannot be read "
                                     f"({' '.join(str(error).split())[:200]})") from None
    if ids:
        count += len(ids)
        yield _rows(ids, vectors)
    expected = read_manifest(index_dir).get("num_docs")
    if count != expected:
        raise damaged(index_dir, f"its kept vectors hold {count} documents, not the manifest's {expected} (truncated?)")


def _rows(ids: list[str], vectors: list[dict]) -> tuple[list[str], sp.csr_matrix, np.ndarray]:
    import numpy as np
    import scipy.sparse as sp

    columns: dict[str, int] = {}
    indices = [columns.setdefault(term, len(columns)) for vector in vectors for term in vector]
    data = [weight for vector in vectors for weight in vector.values()]
    indptr = np.concatenate([[0], np.cumsum([len(v) for v in vectors], dtype=np.int64)])
    rows = sp.csr_matrix((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64), indptr), shape=(len(ids), len(columns)))
    return ids, rows, np.asarray(list(columns), dtype=object)


def derived_manifest(source: Path, manifest: Manifest, tmp: Path, kind: str, num_docs: int, settings: dict, started: float) -> Manifest:
    """Copy impact index ``source``'s query side into ``tmp`` and return the manifest of the ``kind`` index built there
    (``settings`` under the key ``kind``; its size leaves the query side out, as an impact index's does)."""
    if (source / QUERY_DIR).is_dir():
        shutil.copytree(source / QUERY_DIR, tmp / QUERY_DIR)
    built: Manifest = {
        "lsr_version": __version__,
        "kind": kind,
        "num_docs": num_docs,
        "dataset": manifest.get("dataset", ""),
        "query": {key: value for key, value in manifest["query"].items() if key != "defaults"},
        kind: settings,
        "source": {"index": str(source.absolute()), "build_id": manifest.get("build_id"), "kind": "impact"},
        "index_bytes": directory_size(tmp) - (directory_size(tmp / QUERY_DIR) if (tmp / QUERY_DIR).is_dir() else 0),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    for key in ("corpus", "recipe", "recipe_fingerprint", "skipped_empty"):
        if key in manifest:
            built[key] = manifest[key]
    return built


def derived_from(output: Path, source: Path, kind: str) -> Manifest | None:
    """The manifest of ``output`` when it is a ``kind`` index derived from the current build of ``source``, else None."""
    try:
        manifest = read_manifest(output)
        if manifest.get("kind") == kind and manifest["source"]["build_id"] == read_manifest(source).get("build_id"):
            return manifest
    except (LsrError, KeyError):
        pass
    return None
