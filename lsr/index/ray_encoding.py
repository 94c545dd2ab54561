"""Document encoding as a Ray Data job: ``lsr index RECIPE --dataset X --ray``.

The corpus is cut into shards of :attr:`RayEncoding.shard_docs` documents; a Ray Data ``map_batches`` over the shards
runs on an actor pool of encoder replicas (:attr:`RayEncoding.actors`, each loading the model once and running torch on its
own :attr:`RayEncoding.threads`), and each shard comes back as the quantised, pruned rows that the in-process path computes.
The driver writes every shard to ``<output>.shards/`` as it arrives (a temporary file, renamed when complete), so a killed
job resumes with the shards it has: a later run encodes only the missing ones. The Lucene index is then built from the
shards as from in-process encoding (BM25 channel added by the driver), and the shard folder removed.

By default Ray starts inside the command, on this machine, and stops with it; ``address`` submits to a running cluster
(``host:6379``, or ``ray://host:10001`` for Ray Client), whose workers need lsr installed and the model reachable by name or
path. (Moritz et al. 2018, "Ray: A Distributed Framework for Emerging AI Applications", OSDI.)
"""

from __future__ import annotations

import faulthandler
import io
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from tqdm.auto import tqdm

from lsr.atomic import atomic_file
from lsr.errors import LsrError
from lsr.index.native_output import native_output_redirected

if TYPE_CHECKING:
    import scipy.sparse as sp

    from lsr.data import Document
    from lsr.index.recipe import IndexRecipe

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # seconds that a cluster address gets to accept a connection
KEY_FILE = "key.json"  # what the shards were encoded from: a folder of another key is cleared


@dataclass(frozen=True)
class RayEncoding:
    """How ``--ray`` encodes: ``actors`` encoder replicas of ``threads`` torch threads each (None: this machine's cores
    shared among them), on a Ray started locally or the cluster at ``address``; ``shard_docs`` documents per shard (the
    unit that is handed to an actor, written, and resumed from: small, so that on a corpus of a few thousand documents
    the actors finish together, where a large last shard would keep one busy while the others wait)."""

    actors: int = field(default=2, metadata={"help": "with --ray: encoder replicas"})
    threads: int | None = field(default=None, metadata={"help": "with --ray: torch threads per replica", "type": int,
                                                        "default": "cores / actors"})
    address: str | None = field(default=None, metadata={"help": "with --ray: a Ray cluster, host:6379 or ray://host:10001", "type": str,
                                                         "default": "a local Ray", "metavar": "ADDR"})
    shard_docs: int = 128

    def __post_init__(self) -> None:
        """LsrError naming the first setting out of range."""
        for name in ("actors", "shard_docs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LsrError(f"ray setting {name} must be a positive integer, got {value!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or isinstance(self.threads, bool) or self.threads < 1):
            raise LsrError(f"ray setting threads must be a positive integer or empty, got {self.threads!r}")
        if self.address not in (None, "auto"):
            host, _, port = self.address.removeprefix("ray://").rpartition(":")
            if not host or not port.isdigit():
                raise LsrError(f"Ray address {self.address!r}: expected host:port (e.g. 10.0.0.5:6379) or ray://host:port (Ray Client)")

    def actor_threads(self) -> int:
        """Torch threads per actor."""
        return self.threads or max(1, (os.cpu_count() or 1) // self.actors)


def shard_folder(output: Path) -> Path:
    """Where the shards of ``output``'s encoding are kept until its index is built."""
    return output.with_name(output.name + ".shards")


def encoding_key(recipe: IndexRecipe, corpus_sha256: str) -> dict:
    """What a shard's rows depend on: the encoder (its files' digest when it is a folder), its document settings and the corpus."""
    from lsr.encoders.names import resolve_model
    from lsr.index.recipe import directory_digest

    model = resolve_model(recipe.encoder)
    return {"encoder": recipe.encoder, "model_digest": directory_digest(Path(model)) if Path(model).is_dir() else model,
            "doc_max_length": recipe.doc_max_length, "doc_scale": recipe.doc_scale, "doc_top_k": recipe.doc_top_k,
            "doc_min_ratio": recipe.doc_min_ratio, "batch_size": recipe.batch_size, "corpus_sha256": corpus_sha256}


def encode_shards(recipe: IndexRecipe, docs: Sequence[Document], folder: Path, key: dict, settings: RayEncoding,
                  progress: bool = True) -> dict:
    """Encode on Ray the shards of ``docs`` that ``folder`` lacks (all of them when it holds another ``key``'s); returns
    the manifest's ``ray`` stats: shards, shards encoded by this job, actors, threads per actor, the job's seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    key = {**key, "shard_docs": settings.shard_docs}  # shard i holds documents i*shard_docs onwards
    if _read_key(folder) != key:
        for old in folder.glob("shard-*"):
            old.unlink()
        with atomic_file(folder / KEY_FILE) as tmp:
            tmp.write_text(json.dumps(key, sort_keys=True), encoding="utf-8")
    count = -(-len(docs) // settings.shard_docs)
    pending = [i for i in range(count) if not _shard_path(folder, i).is_file()]
    started = time.perf_counter()
    if pending:
        settings = replace(settings, actors=min(settings.actors, len(pending)))  # no actor without a shard: each loads the model
        log.info("%s: %d of %d shards to encode on Ray (%d actors x %d threads)", recipe.name, len(pending), count, settings.actors,
                 settings.actor_threads())
        _encode_on_ray(recipe, docs, pending, folder, settings, progress)
    return {"shards": count, "encoded_shards": len(pending), "actors": settings.actors, "threads_per_actor": settings.actor_threads(),
            "address": settings.address or "local", "seconds": round(time.perf_counter() - started, 1)}


def read_shards(folder: Path, docs: Sequence[Document], shard_docs: int) -> Iterator[sp.csr_matrix]:
    """Each shard's quantised, pruned document rows (vocabulary ids as columns), in corpus order."""
    for i in range(-(-len(docs) // shard_docs)):
        yield _read_shard(folder, i, len(docs[i * shard_docs:(i + 1) * shard_docs]))


def _encode_on_ray(recipe: IndexRecipe, docs: Sequence[Document], pending: list[int], folder: Path, settings: RayEncoding,
                   progress: bool) -> None:
    with ray_session(settings) as ray:
        size = settings.shard_docs
        items = [{"shard": i, "texts": [d.contents for d in docs[i * size:(i + 1) * size]]} for i in pending]
        encoded = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(  # a task per shard
            shard_encoder(recipe, settings.actor_threads()), batch_size=1, compute=ray.data.ActorPoolStrategy(size=settings.actors),
            num_cpus=settings.actor_threads())
        bar = tqdm(desc=f"{recipe.name}: encode on Ray", unit="shard", total=len(pending), disable=not progress)
        try:
            for row in encoded.iter_rows():  # as each shard finishes, in any order
                _write_shard(folder, int(row["shard"]), bytes(row["npz"]))
                bar.update(1)
        except Exception as error:  # Ray wraps a worker's error in its own types; name the job and keep the shards written
            raise LsrError(f"{recipe.name}: the Ray encoding job failed ({type(error).__name__}: {str(error).strip()[:2000]}); "
                           f"the shards already written in {folder} are kept, and running again resumes from them") from None
        finally:
            bar.close()


def shard_encoder(recipe: IndexRecipe, threads: int):
    """The actor class of the pool: the model loaded once per actor on ``threads`` torch threads; a batch of shards in,
    each shard's rows (as ``.npz`` bytes) out. The recipe is closed over, so that Ray pickles it with the class."""
    class ShardEncoder:
        def __init__(self):
            import torch

            from lsr.encoders import sparse

            torch.set_num_threads(threads)
            self.model = sparse.load_sparse_encoder(recipe.encoder, document_length=recipe.doc_max_length,
                                                    query_length=recipe.query_max_length)

        def __call__(self, batch: dict) -> dict:
            import numpy as np

            from lsr.index.pruning import document_rows

            blobs = [_npz_bytes(document_rows(self.model, list(texts), recipe)) for texts in batch["texts"]]
            return {"shard": batch["shard"], "npz": np.array(blobs, dtype=object)}

    return ShardEncoder


@contextmanager
def ray_session(settings: RayEncoding):
    """The ``ray`` module, connected to the cluster at ``settings.address`` or to a local Ray started for the block (and
    stopped after it); an LsrError within :data:`CONNECT_TIMEOUT` seconds when the address does not answer."""
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # Ray Data's per-job INFO lines and progress bars: lsr draws its own
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # the C++ core's notes on stderr; failures still raise
    # a local Ray starts its workers at nice 15: beside any other busy process the encoders then crawl (an actor took 87 s
    # instead of 7 s to load the model here); they are the work of this command, so they run at its priority
    os.environ.setdefault("RAY_worker_niceness", "0")
    # the JVM in this process (Lucene) takes SIGSEGV as part of its normal work (implicit null checks, safepoints) and
    # needs its own handler: Ray's C++ failure handler and Python's faulthandler, which Ray turns on, would end the process
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    try:
        import ray
    except ImportError:
        raise LsrError("encoding on Ray needs Ray: pip install 'lsr[ray]' (make install includes it)") from None

    if settings.address:
        _check_reachable(settings.address)
    started_here = not ray.is_initialized()
    if started_here:
        fault_handler = faulthandler.is_enabled()
        try:
            with native_output_redirected(2):  # its notes at start (token authentication on; the C++ core's log level)
                ray.init(address=settings.address, num_cpus=None if settings.address else settings.actors * settings.actor_threads(),
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
        except Exception as error:  # ConnectionError, RuntimeError and Ray's own types
            where = f"the Ray cluster at {settings.address}" if settings.address else "a local Ray"
            raise LsrError(f"cannot start {where}: {type(error).__name__}: {str(error).strip()[:500]}") from None
        finally:
            if not fault_handler:  # ray.init turned it on: give the signals back to the handlers it replaced (the JVM's)
                faulthandler.disable()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    """An LsrError unless something accepts a TCP connection at ``address`` (``host:port`` or ``ray://host:port``) within
    :data:`CONNECT_TIMEOUT` seconds: Ray itself retries an absent cluster for minutes."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")  # checked by RayEncoding
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        raise LsrError(f"cannot connect to the Ray cluster at {address}: {error.strerror or error} "
                       f"(nothing answered within {CONNECT_TIMEOUT:g} s; start one with `ray start --head`)") from None


def _npz_bytes(rows: sp.csr_matrix) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, data=rows.data, indices=rows.indices, indptr=rows.indptr, shape=np.array(rows.shape))
    return buffer.getvalue()


def _shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard-{index:06d}.npz"


def _write_shard(folder: Path, index: int, blob: bytes) -> None:
    with atomic_file(_shard_path(folder, index)) as tmp:
        tmp.write_bytes(blob)


def _read_shard(folder: Path, index: int, expected: int) -> sp.csr_matrix:
    import numpy as np
    import scipy.sparse as sp

    path = _shard_path(folder, index)
    try:
        with np.load(path) as saved:
            rows = sp.csr_matrix((saved["data"], saved["indices"], saved["indptr"]), shape=tuple(saved["shape"]))
    except (OSError, KeyError, ValueError) as error:
        raise LsrError(f"shard {path} is damaged ({error}); delete it and run again to encode it anew") from None
    if rows.shape[0] != expected:
        raise LsrError(f"shard {path} holds {rows.shape[0]} documents where {expected} were expected; delete {folder} and run again")
    return rows


def _read_key(folder: Path) -> dict | None:
    try:
        return json.loads((folder / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
