"""Milvus collections: the vectors of an impact index in Milvus, for serving from a distributed engine.

:func:`build_milvus` writes the kept vectors (``--keep-vectors``) of an lsr impact index, BM25 channel included, into a
Milvus collection: a ``SPARSE_FLOAT_VECTOR`` field with a ``SPARSE_INVERTED_INDEX`` under inner product, keyed by document
id. Searched with ``drop_ratio_search`` 0 the collection scores the same dot products over the same integer impacts as
Lucene's exhaustive search. Milvus knows dimensions by integer id: the lsr folder keeps ``terms.json`` (term -> id) and the
source's query side (tokenizer, IDF table, lexical table), so that ``Searcher.open`` weighs queries as the source does
(:class:`lsr.search.milvus.MilvusSearcher`).

From a hybrid index (one impact index and one dense index), the collection also holds each document's dense vector in a
``FLOAT_VECTOR`` field (``FLAT``: exact inner product), the folder keeps the dense query side under ``dense/`` and the
hybrid's fusion settings; ``Searcher.open`` then gives a hybrid searcher over the two fields, fused by lsr's own fusion
(:class:`lsr.search.milvus.MilvusDenseSearcher`).

The URI is a Milvus server (``http://host:19530``; a cluster's proxy) or, by default, the embedded milvus-lite in the lsr
folder itself (``milvus.db/``): the same code serves both. A server's collection is written under a temporary name and
renamed over the old one only when complete. ``lsr export milvus INDEX`` runs it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

from lsr.errors import LsrError
from lsr.index.check import read_doc_ids
from lsr.index.hybrid import check_same_documents
from lsr.index.manifest import MILVUS_LITE, QUERY_DIR, TERMS, VECTORS, Manifest, building, read_manifest, write_manifest
from lsr.index.vectors import derived_manifest, impact_source, kept_vectors

ID_FIELD, VECTOR_FIELD, DENSE_FIELD = "id", "vector", "dense"
DENSE_DIR = "dense"  # in a hybrid's lsr folder: the dense index's query side (an ONNX export, when it has one)
MAX_ID_LENGTH = 512  # bytes of a document id (Milvus VARCHAR primary key)
INSERT_BATCH = 1000  # documents per insert request
CONNECT_TIMEOUT = 20.0  # seconds that a server gets to answer
DESCRIPTION = "lsr impact vectors"  # marks the collections lsr wrote, which a rebuild may replace
SEARCH_PARAMS = {"metric_type": "IP", "params": {"drop_ratio_search": 0.0}}  # exact: no query term dropped
DENSE_SEARCH_PARAMS = {"metric_type": "IP"}  # FLAT: every document's vector


def is_milvus(path: Path) -> bool:
    """Whether ``path`` is an lsr folder of a Milvus collection."""
    try:
        return read_manifest(path).get("kind") == "milvus"
    except LsrError:
        return False


def is_server(uri: str) -> bool:
    """Whether ``uri`` names a Milvus server (a scheme such as ``http://``) rather than a milvus-lite folder."""
    return re.match(r"^[a-z][a-z0-9+.-]*://", uri) is not None


def collection_name(output: Path) -> str:
    """A collection name made of the lsr folder's name (letters, digits and underscores, starting with a letter)."""
    return "lsr_" + re.sub(r"[^A-Za-z0-9_]", "_", output.name)[:200]


_lite_clients: dict[str, int] = {}  # milvus-lite folder -> clients open on it in this process


def open_client(uri: str, timeout: float = CONNECT_TIMEOUT):
    """A ``MilvusClient`` of ``uri``: a server, or a milvus-lite folder (started in this process on first use); an LsrError
    naming the URI when it does not answer within ``timeout`` seconds. Close it with :func:`close_client`."""
    # gRPC's fork handlers break children forked later by this process (lsr's JVMs: ``preexec_fn`` forks; a quarter of
    # them aborted on an epoll error), and lsr never uses a client across a fork; read when gRPC first loads
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    from pymilvus import MilvusClient

    lite = not is_server(uri)
    if lite and os.path.abspath(uri) not in _lite_clients:
        _check_lite_unlocked(uri)
    quiet = logging.getLogger("milvus_lite")  # it logs a traceback for a folder that another process took meanwhile
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)
    try:
        client = MilvusClient(uri=uri, timeout=timeout)
    except Exception as error:  # pymilvus raises MilvusException, grpc and OS errors
        if lite:
            _check_lite_unlocked(uri)  # taken by another process since the first check: say so
        raise LsrError(f"cannot connect to Milvus at {uri}: {_reason(error)} (a server's URI looks like http://host:19530)") from None
    finally:
        quiet.setLevel(level)
    if not is_server(uri):
        _lite_clients[os.path.abspath(uri)] = _lite_clients.get(os.path.abspath(uri), 0) + 1
    return client


def _check_lite_unlocked(folder: str) -> None:
    """An LsrError when another process has milvus-lite folder ``folder`` open: milvus-lite locks it (its ``LOCK`` file)
    for one process at a time, and would only log a traceback and fail."""
    import fcntl

    lock = Path(folder) / "LOCK"
    if not lock.is_file():
        return
    with open(lock, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LsrError(f"{folder} is in use by another process (milvus-lite opens a folder in one process at a time): "
                           "search through that process (e.g. its lsr serve), or stop it first") from None
        fcntl.flock(handle, fcntl.LOCK_UN)


def close_client(client, uri: str) -> None:
    """Close a client of :func:`open_client`; the last one of a milvus-lite folder stops its server, which releases the
    folder's lock (so that it can be moved, replaced or opened by another process)."""
    client.close()
    key = os.path.abspath(uri)
    if not is_server(uri) and key in _lite_clients:
        _lite_clients[key] -= 1
        if _lite_clients[key] == 0:
            from milvus_lite.server_manager import server_manager_instance

            del _lite_clients[key]
            server_manager_instance.release_server(key)


@contextmanager
def connected(uri: str, timeout: float = CONNECT_TIMEOUT) -> Iterator:
    """:func:`open_client` for the length of a ``with`` block."""
    client = open_client(uri, timeout)
    try:
        yield client
    finally:
        close_client(client, uri)


def _reason(error: Exception) -> str:
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def build_milvus(source: str | os.PathLike, output: str | os.PathLike, uri: str | None = None, collection: str | None = None,
                 progress: bool = True) -> Manifest:
    """Write impact index ``source``'s kept vectors into a Milvus collection and its query side into the lsr folder ``output``
    (written beside it, renamed when complete). ``uri``: a Milvus server's, else milvus-lite inside ``output``;
    ``collection``: its name (default: from ``output``'s name). ``source`` may be a hybrid index of one impact index and
    one dense index: the collection then holds both, and the folder the dense query side and the fusion settings."""
    source, output = Path(source), Path(os.path.abspath(output))
    source, dense = _hybrid_parts(source)
    manifest = impact_source(source, "a Milvus collection")
    if uri is not None and not is_server(uri):
        raise LsrError(f"Milvus URI {uri!r}: give a server's, such as http://host:19530 (without a URI the collection goes into "
                       "milvus-lite inside the output folder)")
    name = collection_name(output) if collection is None else collection
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", name):
        raise LsrError(f"Milvus collection name {name!r}: letters, digits and underscores, starting with a letter or underscore")
    started = time.perf_counter()
    with building(output, own=is_milvus, what="an lsr Milvus index") as tmp:
        target = uri if uri and is_server(uri) else MILVUS_LITE
        with connected(uri if target != MILVUS_LITE else str(tmp / MILVUS_LITE)) as client:
            if is_server(target) and client.has_collection(name) and client.describe_collection(name).get("description") != DESCRIPTION:
                raise LsrError(f"Milvus at {target} already holds a collection {name!r} that lsr did not write; name another (--collection)")
            staging = f"{name}_partial_{uuid.uuid4().hex[:8]}" if is_server(target) else name
            terms, count = _write_collection(client, staging, source, manifest.get("num_docs"), progress, dense[1:] if dense else None)
            if staging != name:
                if client.has_collection(name):
                    client.drop_collection(name)
                client.rename_collection(staging, name)
        (tmp / TERMS).write_text(json.dumps(terms), encoding="utf-8")
        settings = {"uri": target, "collection": name, "index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"}
        if dense:
            settings["dense"] = _dense_side(*dense, tmp)
        write_manifest(tmp, derived_manifest(source, manifest, tmp, "milvus", count, settings, started))
    return read_manifest(output)


def milvus_summary(output: Path, manifest: Manifest) -> str:
    """One line about a collection that :func:`build_milvus` wrote for ``output``: its name, documents, fields and address."""
    where = manifest["milvus"]["uri"]
    where = where if is_server(where) else f"{output / where} (milvus-lite)"
    fields = "sparse and dense vectors" if manifest["milvus"].get("dense") else "sparse vectors"
    return (f"{output}: Milvus collection {manifest['milvus']['collection']!r} of {manifest['num_docs']} documents' {fields} at {where}, "
            f"written in {manifest['build_seconds']} s")


def _hybrid_parts(source: Path) -> tuple[Path, tuple[dict, Path, dict] | None]:
    """(the sparse index, (hybrid manifest, dense index folder, its manifest)) of a hybrid ``source``; (``source``, None)
    for any other index."""
    manifest = read_manifest(source)
    if manifest["kind"] != "hybrid":
        return source, None
    if manifest.get("more_sparse"):
        raise LsrError(f"{source}: a Milvus collection holds one sparse and one dense field; this hybrid has "
                       f"{1 + len(manifest['more_sparse'])} sparse lists")
    sparse, dense = source / manifest["sparse"], source / manifest["dense"]
    dense_manifest = read_manifest(dense)
    check_same_documents(read_manifest(sparse), dense_manifest, f"hybrid {source}")
    return sparse, (manifest, dense, dense_manifest)


def _dense_side(hybrid: dict, dense: Path, manifest: dict, tmp: Path) -> dict:
    """Copy the dense index's query side into ``tmp/dense``; returns the manifest's ``milvus.dense`` section."""
    if (dense / QUERY_DIR).is_dir():
        shutil.copytree(dense / QUERY_DIR, tmp / DENSE_DIR / QUERY_DIR)
    return {"field": DENSE_FIELD, "dim": int(manifest["faiss"]["dim"]), "index_type": "FLAT", "query": manifest["query"],
            "fusion": hybrid["fusion"], "source": str(dense.absolute())}


def _dense_rows(dense: Path, manifest: dict) -> tuple[np.ndarray, dict[str, int]]:
    """The dense index's document vectors (memory-mapped) and each document's row."""
    return np.load(dense / VECTORS, mmap_mode="r"), {doc: row for row, doc in enumerate(read_doc_ids(dense, manifest))}


def _write_collection(client, name: str, source: Path, total: int | None, progress: bool,
                      dense: tuple[Path, dict] | None = None) -> tuple[dict[str, int], int]:
    """Create collection ``name`` and insert ``source``'s kept vectors (and, with ``dense``, that dense index's vectors of
    the same documents; its folder and manifest); returns (term -> dimension id, documents written). A collection left half-written by a failure
    is dropped."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description=DESCRIPTION)
    schema.add_field(ID_FIELD, DataType.VARCHAR, is_primary=True, max_length=MAX_ID_LENGTH)
    schema.add_field(VECTOR_FIELD, DataType.SPARSE_FLOAT_VECTOR)
    index = client.prepare_index_params()
    index.add_index(field_name=VECTOR_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    if dense:
        vectors, dense_rows = _dense_rows(*dense)
        schema.add_field(DENSE_FIELD, DataType.FLOAT_VECTOR, dim=vectors.shape[1])
        index.add_index(field_name=DENSE_FIELD, index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index)
    terms: dict[str, int] = {}
    count = 0
    bar = tqdm(desc=f"Milvus: insert into {name}", unit="doc", total=total, disable=not progress)
    try:
        for doc_ids, rows, columns in kept_vectors(source):
            ids = [terms.setdefault(str(term), len(terms)) for term in columns]
            for start in range(0, len(doc_ids), INSERT_BATCH):
                batch = []
                for row in range(start, min(start + INSERT_BATCH, len(doc_ids))):
                    a, b = rows.indptr[row], rows.indptr[row + 1]
                    if len(doc_ids[row].encode("utf-8")) > MAX_ID_LENGTH:
                        raise LsrError(f"document id {doc_ids[row][:60]!r}... is longer than Milvus' {MAX_ID_LENGTH} bytes")
                    batch.append({ID_FIELD: doc_ids[row], VECTOR_FIELD: {ids[j]: float(w) for j, w in zip(rows.indices[a:b], rows.data[a:b])}})
                    if dense:
                        batch[-1][DENSE_FIELD] = vectors[dense_rows[doc_ids[row]]].tolist()
                client.insert(name, batch)
                count += len(batch)
                bar.update(len(batch))
        client.flush(name)
    except BaseException:
        client.drop_collection(name)
        raise
    finally:
        bar.close()
    if count == 0:
        client.drop_collection(name)
        raise LsrError(f"{source}: no documents to write into Milvus")
    return terms, count
