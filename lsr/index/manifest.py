"""The manifest that every lsr index directory carries (``manifest.json``).

It records what the index was built from (encoder, query side, scales, corpus checksum, lsr
version) so that a searcher opens it correctly and an evaluation can reuse it safely.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Literal, TypedDict, get_args

from lsr.atomic import atomic_file
from lsr.errors import LsrError

MANIFEST = "manifest.json"
LUCENE_DIR = "lucene"
QUERY_DIR = "query"
VECTORS = "vectors.npy"  # dense: float32 document vectors
DOCIDS = "docids.json"  # dense: the document id of each row
FAISS_FILE = "index.faiss"  # dense: the faiss index
SEISMIC_FILE = "index.index.seismic"  # seismic: Seismic's index (Seismic adds ".index.seismic" to the name it saves under)
TERMS = "terms.json"  # seismic, milvus: term -> the engine's integer dimension id
MILVUS_LITE = "milvus.db"  # milvus: the embedded milvus-lite data folder, when the collection is local

Kind = Literal["bm25", "impact", "dense", "hybrid", "seismic", "milvus"]
KINDS: tuple[str, ...] = get_args(Kind)
SPARSE_KINDS = ("bm25", "impact")
LEGACY_SIZE = "lucene_bytes"  # the size's old name (sparse indexes): read from manifests on disk, never written


class Corpus(TypedDict):
    """The ``corpus`` section: where the documents came from and their checksum (``Dataset.corpus_sha256``)."""

    path: str
    sha256: str


class _Required(TypedDict):
    kind: Kind
    num_docs: int  # documents indexed (empty ones skipped)


class Manifest(_Required, total=False):
    """What ``manifest.json`` holds. ``kind`` and ``num_docs`` always; the rest as the index's kind has them.

    Every kind: ``lsr_version``, ``dataset``, ``index_bytes`` (bytes on disk of what a search reads: the Lucene index
    of a sparse index, the whole directory of a dense one, the sum of the components of a hybrid), ``build_seconds``,
    ``build_id`` (random, new with each build).
    Built from a recipe: ``recipe`` (its settings), ``recipe_fingerprint`` and ``corpus``. Sparse and dense:
    ``query`` (the query side a searcher needs: type, scale, tokenizer and table paths, ``lexical``, ``defaults``,
    model) and ``skipped_empty``. Synthetic bench indexes (:mod:`lsr.bench.scale`) add their generation ``synthetic``
    settings and timings.
    """

    lsr_version: str
    dataset: str
    corpus: Corpus
    recipe: dict  # the recipe's settings (a hybrid: its name and its components' names)
    recipe_fingerprint: str  # hash of the settings that change the index: reuse only when it matches
    query: dict  # bm25: k1, b; impact: type, scale, tokenizer, weights, lexical, model, max_length, defaults, backend, onnx; dense: model, ...
    skipped_empty: list[str]  # ids of documents with neither title nor text
    index_bytes: int
    build_seconds: float
    build_id: str
    # impact
    avg_doc_terms: float
    encode_seconds: float  # also dense
    encode_docs_per_s: float | None  # also dense
    vectors_from: str  # built from another index's kept vectors (--vectors-from)
    # dense
    faiss: dict  # index, dim, ef_search
    document_vectors_from: str | None  # a sibling index whose document vectors were copied
    # hybrid: component index folders, relative to the hybrid's
    sparse: str
    dense: str
    more_sparse: list[str]
    fusion: dict  # FusionConfig's fields
    # synthetic bench indexes
    synthetic: dict  # the generation settings; the index is reused when they match
    generate_seconds: float
    index_seconds: float
    index_threads: int
    index_docs_per_s: float
    peak_rss_bytes: int  # of the build's whole process tree


def read_manifest(index_dir: str | os.PathLike) -> Manifest:
    """The manifest of an index directory; a clear error if it is missing or not JSON (:func:`lsr.index.check.check_index`
    also checks what it holds and the files it names)."""
    index_dir = Path(index_dir)
    path = index_dir / MANIFEST
    if not path.is_file():
        hint = " (an unfinished build?)" if index_dir.with_name(index_dir.name + ".partial").exists() else ""
        raise LsrError(f"{index_dir} is not an lsr index: {MANIFEST} is missing{hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LsrError(f"{index_dir}: a damaged lsr index: {MANIFEST} cannot be read ({error}); rebuild it") from None
    if not isinstance(manifest, dict):
        raise LsrError(f"{index_dir}: a damaged lsr index: {MANIFEST} holds a {type(manifest).__name__}, not a mapping; rebuild it")
    return manifest


def write_manifest(directory: str | os.PathLike, manifest: Manifest) -> None:
    """Write ``directory``'s ``manifest.json`` whole or not at all; LsrError naming the key if ``kind`` or ``num_docs`` is missing or bad."""
    directory = Path(directory)
    if manifest.get("kind") not in KINDS:
        why = "is missing" if "kind" not in manifest else f"is {manifest['kind']!r}, not one of {', '.join(KINDS)}"
        raise LsrError(f"{directory}: cannot write {MANIFEST}: its 'kind' {why}")
    num_docs = manifest.get("num_docs")
    if not isinstance(num_docs, int) or isinstance(num_docs, bool) or num_docs < 0:
        why = "is missing" if "num_docs" not in manifest else f"is {num_docs!r}, not a count"
        raise LsrError(f"{directory}: cannot write {MANIFEST}: its 'num_docs' {why}")
    body = {key: value for key, value in manifest.items() if key != LEGACY_SIZE}
    body.setdefault("build_id", uuid.uuid4().hex)  # tells two builds of one recipe apart (cached runs are keyed on it)
    if LEGACY_SIZE in manifest:
        body.setdefault("index_bytes", manifest[LEGACY_SIZE])
    text = json.dumps(body, indent=2)  # before the file is opened: a value JSON cannot hold leaves nothing behind
    with atomic_file(directory / MANIFEST) as tmp:
        tmp.write_text(text, encoding="utf-8")


def index_bytes(manifest: Manifest) -> int:
    """The index's size on disk as its manifest records it (0 if it does not); reads manifests written before ``index_bytes``."""
    return int(manifest.get("index_bytes", manifest.get(LEGACY_SIZE, 0)))


def directory_size(path: Path) -> int:
    """Bytes on disk under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def is_index(path: Path) -> bool:
    """Whether ``path`` is an lsr index: a folder whose ``manifest.json`` names a kind that lsr writes."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("kind") in KINDS


def check_replaceable(output: Path, own: Callable[[Path], bool] = is_index, what: str = "an lsr index") -> None:
    """LsrError unless ``output`` is absent, an empty folder or ``what`` lsr wrote (``own``): nothing else is ever replaced."""
    if not output.exists() and not output.is_symlink():
        return
    if not output.is_dir():
        raise LsrError(f"{output} exists and is not a folder: lsr writes {what} there only in place of nothing or of {what}; "
                       "choose another output")
    if any(output.iterdir()) and not own(output):
        why = f" (its {MANIFEST} is unreadable or names no kind of lsr's)" if (output / MANIFEST).is_file() else ""
        raise LsrError(f"{output} exists and is not {what}{why}: lsr replaces only its own; remove it or choose another output")


@contextmanager
def writing(output: Path) -> Iterator[bool]:
    """Hold ``output``'s lock (``<output>.lock``, an exclusive ``flock`` holding the holder's pid) for the block; yield
    whether a killed lsr process held it before (its pid was still in the file), so that its leftovers are lsr's.

    A second lsr process writing ``output`` meanwhile gets an LsrError naming the holder's pid. The kernel releases the
    lock when its holder ends, however it ends (``kill -9`` included), so a killed build never blocks the next one;
    the file goes when the block ends. A ``<output>.lock`` that holds anything but a pid is not lsr's and is refused.
    """
    import fcntl  # POSIX only, like the JVM indexer beside it: imported where it is used

    path = output.with_name(output.name + ".lock")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise LsrError(f"{output} is in use by another lsr process (pid {holder}), which holds {path}: "
                               "wait for it to end, or choose another output") from None
            if path.exists() and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
            handle.close()  # its holder removed the file as it finished: lock the file now at that path
    except OSError as error:
        raise LsrError(f"{output}: cannot take its lock {path} ({error.strerror or error}); choose an output in a writable folder") from None
    handle.seek(0)
    before = handle.read().strip()
    if before and not before.isdigit():
        handle.close()
        raise LsrError(f"{path} exists and is not an lsr lock file (it holds text, not a pid): lsr takes the lock of {output} "
                       "there; move it away or choose another output")
    try:
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield bool(before)
    finally:
        path.unlink(missing_ok=True)  # while still locked: a waiting process then locks a new file, never this one
        handle.close()


@contextmanager
def building(output: str | os.PathLike, own: Callable[[Path], bool] = is_index, what: str = "an lsr index") -> Iterator[Path]:
    """Yield a temporary directory beside ``output``; it replaces ``output`` only if the block completes.

    An existing ``output`` must be ``what`` lsr wrote (``own``; an index by default) or an empty folder (:func:`check_replaceable`).
    One process at a time builds an output (:func:`writing`); the leftovers of a killed build (``<output>.partial``, and
    ``<output>.old`` when it died between its two renames) are removed only by the next one, once it holds the lock. Neither
    is touched when it is not lsr's: a non-empty ``.partial`` that no killed lsr process left, an ``.old`` that is not
    ``what``.
    """
    output = Path(os.path.abspath(output))  # "." has no name to put a sibling beside
    check_replaceable(output, own, what)
    with writing(output) as killed_before:
        tmp, old = output.with_name(output.name + ".partial"), output.with_name(output.name + ".old")
        if tmp.is_symlink() or tmp.exists() and (not tmp.is_dir() or not killed_before and any(tmp.iterdir())):
            raise LsrError(f"{tmp} exists and is not the leftover of an lsr build: lsr builds {output} there; move it away "
                           "or choose another output")
        check_replaceable(old, own, what)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old.exists():
            shutil.rmtree(old)
        if output.exists():
            output.rename(old)
        tmp.rename(output)
        shutil.rmtree(old, ignore_errors=True)
