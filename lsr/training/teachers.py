"""Teachers: scorers of (query, candidate documents) behind one small interface, usable by name.

- ``dense:<model>``: a sentence-transformers bi-encoder (default all-MiniLM-L6-v2), cosine/dot as
  the model defines its similarity; ``dense:<document model>|<query model>`` encodes queries with a
  second model, such as a query encoder tuned against frozen document vectors (``training/minilm-scifact.yaml``);
- ``sparse:<model>``: a SparseEncoder (default SPLADE-tiny), dot product;
- ``bm25:<index dir>``: Lucene BM25 scores from an lsr BM25 index (any candidate, retrieved or not);
- ``cross:<model>``: a sentence-transformers CrossEncoder, when one is available.

Bi-encoders encode each distinct query and document once, however many candidate lists share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lsr.errors import LsrError

QUERY_MODEL = "|"
"""Separates a dense teacher's document model from its query model: ``dense:<document model>|<query model>``."""


@dataclass(frozen=True)
class Candidates:
    """For each query, the documents a teacher must score (ids), and the texts behind the ids."""

    queries: dict[str, str]
    lists: dict[str, list[str]]
    documents: dict[str, str]


class Teacher(Protocol):
    """Scores each query's candidate list; ``name`` identifies the teacher in caches and logs."""

    name: str

    def score(self, candidates: Candidates, query_ids: list[str]) -> dict[str, np.ndarray]:
        """Scores of ``candidates.lists[q]`` for each ``q`` in ``query_ids``, in list order."""
        ...


class BiEncoderTeacher:
    """A dense bi-encoder teacher (a SentenceTransformer): the model's similarity of embeddings.

    Document embeddings are kept between calls, so scoring in chunks of queries encodes each
    document once.
    """

    def __init__(self, name: str, model, batch_size: int = 32, progress: bool = True, query_model=None):
        self.name = name
        self.model = model
        self.query_model = query_model or model
        self.batch_size = batch_size
        self.progress = progress
        self._documents: dict[str, object] = {}

    def score(self, candidates: Candidates, query_ids: list[str]) -> dict[str, np.ndarray]:
        new = sorted({d for q in query_ids for d in candidates.lists[q]} - set(self._documents))
        if new:
            self._documents.update(zip(new, self._encode([candidates.documents[d] for d in new], "document")))
        queries = self._encode([candidates.queries[q] for q in query_ids], "query")
        return {q: self._similarity(queries[i], [self._documents[d] for d in candidates.lists[q]]) for i, q in enumerate(query_ids)}

    def _encode(self, texts: list[str], task: str) -> list:
        import torch

        method = self.query_model.encode_query if task == "query" else self.model.encode_document
        with torch.inference_mode():
            return list(method(texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=self.progress and task == "document"))

    def _similarity(self, query, documents: list) -> np.ndarray:
        import torch

        return self.model.similarity(query[None, :], torch.stack(documents))[0].float().numpy()


class SparseTeacher(BiEncoderTeacher):
    """A SparseEncoder teacher: dot products of sparse vectors (lsr's fast encoding, kept as CSR rows)."""

    def _encode(self, texts: list[str], task: str) -> list:
        from lsr.encoders.sparse import encode

        matrix = encode(self.model, texts, task=task, batch_size=self.batch_size)
        return [matrix[i] for i in range(matrix.shape[0])]

    def _similarity(self, query, documents: list) -> np.ndarray:
        import scipy.sparse as sp

        return (sp.vstack(documents) @ query.T).toarray().ravel().astype(np.float32)


class BM25Teacher:
    """BM25 scores of any (query, document) pair from an lsr BM25 index (Anserini's own scoring)."""

    def __init__(self, index_dir: str):
        from lsr.index.manifest import read_manifest

        manifest = read_manifest(index_dir)
        if manifest["kind"] != "bm25":
            raise LsrError(f"{index_dir}: the bm25 teacher needs a BM25 index, this one is {manifest['kind']!r}")
        self.name = "bm25"
        self.index_dir = index_dir
        self.k1, self.b = float(manifest["query"]["k1"]), float(manifest["query"]["b"])

    def score(self, candidates: Candidates, query_ids: list[str]) -> dict[str, np.ndarray]:
        from pathlib import Path

        from lsr.index.manifest import LUCENE_DIR
        from lsr.search.lucene import bm25_scores

        scores = bm25_scores(Path(self.index_dir) / LUCENE_DIR, self.k1, self.b, [(candidates.queries[q], candidates.lists[q]) for q in query_ids])
        return {q: np.array(row, dtype=np.float32) for q, row in zip(query_ids, scores)}


class CrossEncoderTeacher:
    """A sentence-transformers CrossEncoder scoring (query, document text) pairs."""

    def __init__(self, name: str, model, batch_size: int = 32, progress: bool = True):
        self.name = name
        self.model = model
        self.batch_size = batch_size
        self.progress = progress

    def score(self, candidates: Candidates, query_ids: list[str]) -> dict[str, np.ndarray]:
        pairs = [(candidates.queries[q], candidates.documents[d]) for q in query_ids for d in candidates.lists[q]]
        flat = np.asarray(self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=self.progress), dtype=np.float32)
        out, start = {}, 0
        for q in query_ids:
            out[q] = flat[start:start + len(candidates.lists[q])]
            start += len(candidates.lists[q])
        return out


def load_teacher(spec: str, progress: bool = True) -> Teacher:
    """A teacher from ``kind:argument`` (``dense:all-MiniLM-L6-v2``, ``sparse:splade-tiny``, ``bm25:<index>``, ``cross:<model>``)."""
    kind, _, argument = spec.partition(":")
    if kind == "bm25":
        if not argument:
            raise LsrError("the bm25 teacher needs an index: bm25:<index dir>")
        return BM25Teacher(argument)
    from lsr.encoders.names import resolve_model

    if kind == "dense":
        from sentence_transformers import SentenceTransformer

        documents, _, queries = (argument or "all-MiniLM-L6-v2").partition(QUERY_MODEL)
        query_model = _load(SentenceTransformer, resolve_model(queries), spec) if queries else None
        return BiEncoderTeacher(spec, _load(SentenceTransformer, resolve_model(documents), spec), progress=progress, query_model=query_model)
    if kind == "sparse":
        from lsr.encoders.sparse import load_sparse_encoder

        return SparseTeacher(spec, load_sparse_encoder(argument or "splade-tiny", document_length=256, query_length=64), progress=progress)
    if kind == "cross":
        from sentence_transformers import CrossEncoder

        if not argument:
            raise LsrError("the cross-encoder teacher needs a model: cross:<model>")
        return CrossEncoderTeacher(spec, _load(CrossEncoder, resolve_model(argument), spec), progress=progress)
    raise LsrError(f"unknown teacher {spec!r}: use dense:<model>, sparse:<model>, bm25:<index dir> or cross:<model>")


def _load(cls, path: str, spec: str):
    try:
        return cls(path, device="cpu")
    except Exception as error:  # transformers/hub raise many types
        raise LsrError(f"cannot load teacher {spec!r} from {path}: {type(error).__name__}: {error}") from None
