"""BEIR-layout datasets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Every record is validated as it is read; a bad one raises :class:`LsrError` naming the file, the
line and the field. A dataset is found by path, by name under the data root
(:func:`lsr.config.data_root`: ``--data-dir``, else ``$LSR_DATA_DIR``, else a per-user cache folder),
or, online, through ir_datasets (``beir/<name>``), exported once into BEIR layout under the data root.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from lsr.config import data_root
from lsr.errors import LsrError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One corpus record; ``contents`` is what gets indexed (title and text joined by a space)."""

    id: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        return f"{self.title} {self.text}".strip()


def text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its line break) of a UTF-8 text file, a leading byte-order mark dropped and
    lines split at ``\n`` only (``\r\n`` too); a line that is not UTF-8 is an LsrError naming it."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise LsrError(f"{path}:{number}: not valid UTF-8 (byte {error.start}: {raw[error.start:error.start + 4]!r})") from None
            yield number, line.rstrip("\r\n")


UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")
"""Half of a UTF-16 surrogate pair: what a JSON escape such as ``\\ud800`` without its other half decodes to."""


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line, with clear errors for bad bytes or JSON."""
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LsrError(f"{path}:{number}: malformed JSON ({error.msg} at column {error.colno})") from None
        except RecursionError:
            raise LsrError(f"{path}:{number}: JSON nested too deeply to read") from None
        if not isinstance(record, dict):
            raise LsrError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        if "\\u" in line:  # only an escape can spell half of a surrogate pair, which is no text (UTF-8 cannot encode it)
            surrogate = next((m for v in record.values() if isinstance(v, str) and (m := UNPAIRED_SURROGATE.search(v))), None)
            if surrogate:
                raise LsrError(f"{path}:{number}: an unpaired surrogate escape (\\u{ord(surrogate.group()):04x}) is no text; "
                               "write the character itself, or the pair of escapes of a character beyond U+FFFF")
        yield number, record


def _field(record: dict, name: str, path: Path, number: int, required: bool = True) -> str:
    value = record.get(name)
    if value is None:
        if required:
            raise LsrError(f"{path}:{number}: missing field {name!r}")
        return ""
    if name == "_id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise LsrError(f"{path}:{number}: field {name!r} must be a string, got {type(value).__name__}")
    if name == "_id":
        _check_id(value, path, number, "field '_id'")
    return value


def _check_id(value: str, path: Path, number: int, what: str) -> None:
    """LsrError unless ``value`` can stand as an id in a TREC run or qrels file: not empty, no whitespace, no control character
    (a NUL ends the id for C readers such as trec_eval)."""
    if not value:
        raise LsrError(f"{path}:{number}: {what} is empty")
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        raise LsrError(f"{path}:{number}: {what} {value!r} holds whitespace or a control character, which TREC run files cannot (ids "
                       "must be non-empty, without spaces, tabs, line breaks or control characters)")


def _unique(seen: dict[str, int], key: str, path: Path, number: int) -> None:
    if key in seen:
        raise LsrError(f"{path}:{number}: duplicate _id {key!r} (first seen on line {seen[key]})")
    seen[key] = number


@dataclass(frozen=True)
class Dataset:
    """A BEIR-layout directory; records are validated as they are read."""

    name: str
    root: Path
    corpus_file: str = "corpus.jsonl"

    @property
    def corpus_path(self) -> Path:
        return self.root / self.corpus_file

    @property
    def queries_path(self) -> Path:
        return self.root / "queries.jsonl"

    def qrels_path(self, split: str) -> Path:
        return self.root / "qrels" / f"{split}.tsv"

    def splits(self) -> list[str]:
        """The splits that have a qrels file."""
        return sorted(p.stem for p in (self.root / "qrels").glob("*.tsv"))

    def corpus(self) -> Iterator[Document]:
        """Stream the corpus; malformed lines, missing fields and duplicate ids raise LsrError."""
        seen: dict[str, int] = {}
        path = self.corpus_path
        for number, record in _read_jsonl(path):
            doc_id = _field(record, "_id", path, number)
            text = _field(record, "text", path, number)
            title = _field(record, "title", path, number, required=False)
            _unique(seen, doc_id, path, number)
            yield Document(doc_id, title, text)

    @cached_property
    def corpus_size(self) -> int:
        """Number of non-blank lines in the corpus (for progress bars; not validated)."""
        with open(self.corpus_path, "rb") as handle:
            return sum(1 for line in handle if line.strip())

    @cached_property
    def corpus_sha256(self) -> str:
        """Checksum of corpus.jsonl (taken once, on first use), recorded in every index manifest built from it."""
        return file_sha256(self.corpus_path)

    def check_corpus_unchanged(self, checksum: str) -> None:
        """Raise a clear error if corpus.jsonl no longer has ``checksum`` (it changed while being read)."""
        if file_sha256(self.corpus_path) != checksum:
            raise LsrError(f"{self.corpus_path} changed while it was being read: run again on the finished file")

    @cached_property
    def corpus_ids(self) -> frozenset[str]:
        """The ids of the corpus's documents."""
        return frozenset(doc.id for doc in self.corpus())

    @cached_property
    def _checked_splits(self) -> set[str]:
        return set()

    def all_queries(self) -> dict[str, str]:
        """Every query in queries.jsonl, id -> text."""
        seen: dict[str, int] = {}
        queries = {}
        for number, record in _read_jsonl(self.queries_path):
            query_id = _field(record, "_id", self.queries_path, number)
            _unique(seen, query_id, self.queries_path, number)
            queries[query_id] = _field(record, "text", self.queries_path, number)
        return queries

    def queries(self, split: str) -> dict[str, str]:
        """The queries judged in ``split``, id -> text (as BEIR loads them)."""
        judged = self.qrels(split)
        queries = self.all_queries()
        missing = [q for q in judged if q not in queries]
        if missing:
            raise LsrError(f"{self.qrels_path(split)}: {len(missing)} query ids have no entry in {self.queries_path} (e.g. {missing[0]!r})")
        return {q: queries[q] for q in judged}

    def qrels(self, split: str) -> dict[str, dict[str, int]]:
        """Relevance judgements of ``split``: query id -> {doc id: grade}."""
        path = self.qrels_path(split)
        if not path.is_file():
            raise LsrError(f"no qrels for split {split!r}: {path} does not exist (available: {', '.join(self.splits()) or 'none'})")
        qrels: dict[str, dict[str, int]] = {}
        regraded: list[str] = []
        for number, line in text_lines(path):
            parts = line.split("\t")
            if number == 1 and parts[0] == "query-id":
                continue
            if not line.strip():
                continue
            if len(parts) != 3:
                raise LsrError(f"{path}:{number}: expected 3 tab-separated columns (query-id, corpus-id, score), got {len(parts)}")
            try:
                grade = int(parts[2])
            except ValueError:
                raise LsrError(f"{path}:{number}: score {parts[2]!r} is not an integer") from None
            _check_id(parts[0], path, number, "query-id")
            _check_id(parts[1], path, number, "corpus-id")
            judged = qrels.setdefault(parts[0], {})
            if judged.get(parts[1], grade) != grade:
                regraded.append(f"line {number}: {parts[0]} {parts[1]} {judged[parts[1]]} -> {grade}")
            judged[parts[1]] = grade
        if regraded:
            log.warning("%s: %d (query, document) pair(s) judged twice with different grades, the later grade kept (e.g. %s)", path,
                        len(regraded), regraded[0])
        if split not in self._checked_splits:
            self._checked_splits.add(split)
            missing = sorted({doc for judged in qrels.values() for doc in judged} - self.corpus_ids)
            if missing:
                log.warning("%s: %d judged document(s) are not in %s (e.g. %r): no system can retrieve them", path, len(missing),
                            self.corpus_path, missing[0])
        return qrels


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, ir_datasets_id: str | None = None,
                 corpus_only: bool = False) -> Dataset:
    """Find a dataset by directory path, by name under the data root, or through ir_datasets when online.

    ``ir_datasets_id`` overrides ``beir/<name>``; an empty one means the dataset cannot be downloaded.
    A nested name (``cqadupstack/android``) is called ``cqadupstack-android``. ``corpus_only``: a folder
    with a ``corpus.jsonl`` and no queries will do.
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name):
        raise LsrError(f"a dataset is a name or a folder's path (str or os.PathLike), got {type(name).__name__} {name!r:.80}")
    name = os.fspath(name)
    path = find_local(name, data_dir)
    label = Path(name).name if path == Path(name) else name.replace("/", "-")
    if path is None:
        if ir_datasets_id == "":
            raise LsrError(f"dataset {name!r} not found: no BEIR-layout directory at {name} or {data_root(data_dir) / name}, "
                           "and it cannot be downloaded")
        path = _from_ir_datasets(name, data_root(data_dir), ir_datasets_id)
    for required in ("corpus.jsonl",) if corpus_only else ("corpus.jsonl", "queries.jsonl"):
        if not (path / required).is_file():
            raise LsrError(f"dataset {name!r}: {path / required} is missing")
    return Dataset(label, path)


def load_corpus(corpus: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """A corpus by ``corpus.jsonl``-style file (a dataset of that file alone), BEIR-layout directory or dataset name under the data root."""
    path = Path(corpus)
    return Dataset(path.stem, path.parent, path.name) if path.is_file() else load_dataset(corpus, data_dir, corpus_only=True)


def find_local(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The BEIR-layout directory (one holding ``corpus.jsonl``) at path ``name`` or at ``<data root>/<name>``, else None."""
    for path in (Path(name), data_root(data_dir) / name):
        if (path / "corpus.jsonl").is_file():
            return path
    return None


def _from_ir_datasets(name: str, root: Path, dataset_id: str | None = None) -> Path:
    """Export ``beir/<name>`` (or ``dataset_id``) from ir_datasets into BEIR layout under ``root`` (needs network once)."""
    target = root / name
    dataset_id = dataset_id or (name if name.startswith("beir/") else f"beir/{name}")
    try:
        import ir_datasets

        source = ir_datasets.load(dataset_id)
        if not source.has_docs():
            raise KeyError(dataset_id)
        tmp = target.with_name(target.name + ".partial")
        (tmp / "qrels").mkdir(parents=True, exist_ok=True)
        with open(tmp / "corpus.jsonl", "w", encoding="utf-8") as out:
            for doc in source.docs_iter():
                out.write(json.dumps({"_id": doc.doc_id, "title": getattr(doc, "title", ""), "text": doc.text}) + "\n")
        with open(tmp / "queries.jsonl", "w", encoding="utf-8") as out:
            for query in source.queries_iter():
                out.write(json.dumps({"_id": query.query_id, "text": query.text}) + "\n")
        for split in ("train", "dev", "test"):
            try:  # a dataset with one split (ArguAna, SciDocs, ...) has its test qrels on the root id
                split_source = ir_datasets.load(f"{dataset_id}/{split}") if split != "test" or not source.has_qrels() else source
                lines = [f"{q.query_id}\t{q.doc_id}\t{q.relevance}\n" for q in split_source.qrels_iter()]
            except KeyError:
                continue
            (tmp / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(lines), encoding="utf-8")
        tmp.rename(target)
        return target
    except Exception as error:
        raise LsrError(
            f"dataset {name!r} not found: no BEIR-layout directory at {name} or {target}, "
            f"and ir_datasets could not provide {dataset_id!r} ({type(error).__name__}: {error})"
        ) from None
