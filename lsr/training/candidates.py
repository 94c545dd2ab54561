"""Training candidates and teacher scores cached on disk.

Every training query gets its judged positives plus the top-k of a first-stage retriever (BM25 by
default). Each teacher scores every (query, candidate) pair once; its scores are kept in one JSON
file per teacher, stamped with the teacher's name, the candidate source and a checksum of the
candidate lists, and written after every chunk of queries, so an interrupted scoring resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from lsr.data import Dataset
from lsr.search import Searcher
from lsr.training.teachers import Candidates, Teacher

log = logging.getLogger(__name__)


def mine_candidates(dataset: Dataset, split: str, searcher: Searcher, k: int = 100, threads: int = 2) -> Candidates:
    """Judged positives first, then the searcher's top ``k`` (without repeats), for each query of ``split``."""
    queries = dataset.queries(split)
    qrels = dataset.qrels(split)
    retrieved = searcher.batch_search(list(queries.values()), k=k, threads=threads)
    lists = {}
    for query_id, hits in zip(queries, retrieved):
        positives = [d for d, grade in qrels[query_id].items() if grade > 0]
        lists[query_id] = positives + [h.docid for h in hits if h.docid not in positives]
    wanted = {d for docs in lists.values() for d in docs}
    documents = {doc.id: doc.contents for doc in dataset.corpus() if doc.id in wanted}
    lists = {q: [d for d in docs if d in documents] for q, docs in lists.items()}  # judged docs missing from the corpus
    return Candidates(queries, lists, documents)


def save_candidates(candidates: Candidates, folder: Path, dataset: Dataset) -> None:
    """Keep the candidate lists (not the texts) beside the teacher scores, stamped with the corpus checksum."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"corpus_sha256": dataset.corpus_sha256, "queries": candidates.queries, "lists": candidates.lists}
    tmp = folder / "candidates.json.partial"
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, folder / "candidates.json")


def load_candidates(folder: Path, dataset: Dataset) -> Candidates | None:
    """The saved candidates of ``folder`` with their texts from ``dataset``, or None if absent or stale."""
    path = folder / "candidates.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved["corpus_sha256"] != dataset.corpus_sha256:
        return None
    wanted = {d for docs in saved["lists"].values() for d in docs}
    documents = {doc.id: doc.contents for doc in dataset.corpus() if doc.id in wanted}
    return Candidates(saved["queries"], saved["lists"], documents)


def checksum(candidates: Candidates) -> str:
    """Identifies the candidate lists (queries, their texts and their documents, in order)."""
    payload = json.dumps([[q, candidates.queries[q], candidates.lists[q]] for q in sorted(candidates.lists)])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class ScoreCache:
    """Teacher scores of one candidate set, one JSON file per teacher under ``folder``."""

    def __init__(self, folder: str | os.PathLike, candidates: Candidates, source: str):
        self.folder = Path(folder)
        self.candidates = candidates
        self.source = source
        self.checksum = checksum(candidates)

    def path(self, teacher_name: str) -> Path:
        """The cache file of a teacher."""
        return self.folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", teacher_name) + ".json")

    def scores(self, name: str, make_teacher: Callable[[], Teacher], chunk: int = 64, progress: bool = True) -> dict[str, np.ndarray]:
        """Every query's candidate scores from teacher ``name``; the teacher is built only if the cache lacks some."""
        path = self.path(name)
        done = self._load(path, name)
        missing = [q for q in self.candidates.lists if q not in done]
        teacher = make_teacher() if missing else None
        for start in tqdm(range(0, len(missing), chunk), desc=f"teacher {name}", unit="chunk", disable=not progress or not missing):
            part = missing[start:start + chunk]
            done.update({q: [float(x) for x in s] for q, s in teacher.score(self.candidates, part).items()})
            self._save(path, name, done)
        return {q: np.asarray(done[q], dtype=np.float32) for q in self.candidates.lists}

    def _load(self, path: Path, name: str) -> dict[str, list[float]]:
        if not path.is_file():
            return {}
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
        if cached.get("checksum") != self.checksum or cached.get("teacher") != name:
            log.info("%s: scores of other candidates or another teacher; scoring again", path)
            return {}
        return cached["scores"]

    def _save(self, path: Path, name: str, scores: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps({"teacher": name, "source": self.source, "checksum": self.checksum, "scores": scores}), encoding="utf-8")
        os.replace(tmp, path)
