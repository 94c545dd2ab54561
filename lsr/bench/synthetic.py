"""A synthetic corpus with SciFact's term statistics, for benchmarking at scale (e.g. 1M documents).

No model encodes the synthetic documents. Each one is a **mixture of two real documents** plus
background noise, so words that occur together in real documents still occur together (block-max
skipping behaves as on real text) while the corpus grows to any size:

- every token of a *primary* real document is kept with probability ``PRIMARY``, every token of a
  *secondary* one with probability ``SECONDARY``;
- ``BACKGROUND`` x the primary's size more tokens are drawn uniformly from all real tokens (that is,
  from the corpus's unigram distribution).

The same mixture makes **BM25 text** (whitespace tokens of the real texts) and **impact vectors**
(the real documents' encoded ``{term: weight}``, an index built with ``--keep-vectors``; a term keeps
its weight from the document it came from, background terms the weight of the real posting drawn,
and a term drawn twice keeps its first weight). With the same seed, synthetic document ``s<i>`` of
the two corpora comes from the same two real documents. On average a synthetic document is as long
as a real one and each word keeps its share of the corpus.

Both generators stream: documents are produced chunk by chunk (BM25 text into JSONL shards for
Anserini, impact vectors straight into Lucene), so memory stays bounded whatever the number of documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import scipy.sparse as sp

from lsr.errors import LsrError
from lsr.index.impact_writer import SEP

CHUNK = 10_000  # documents generated per numpy draw
PRIMARY, SECONDARY, BACKGROUND = 0.5, 0.3, 0.2


@dataclass
class RealDocuments:
    """Real documents as one flat array of item ids (tokens or terms), document after document."""

    items: np.ndarray  # int32 ids into ``names``
    offsets: np.ndarray  # int64, start of each document in ``items`` (one more entry at the end)
    names: np.ndarray  # object array: the string of each id
    weights: np.ndarray | None = None  # int32 weight of each item (impact vectors), None for text

    @property
    def sizes(self) -> np.ndarray:
        """Items per real document."""
        return np.diff(self.offsets)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "RealDocuments":
        """The whitespace tokens of each non-empty text."""
        ids: dict[str, int] = {}
        items, sizes = [], []
        for text in texts:
            tokens = text.split()
            if tokens:
                items.extend(ids.setdefault(token, len(ids)) for token in tokens)
                sizes.append(len(tokens))
        if not sizes:
            raise LsrError("no non-empty text to take statistics from")
        return cls(np.asarray(items, dtype=np.int32), _offsets(sizes), np.asarray(list(ids), dtype=object))

    @classmethod
    def from_collection(cls, collection: str | Path) -> "RealDocuments":
        """The non-empty vectors of a JsonVectorCollection folder (``collection/*.jsonl`` of an index built with ``--keep-vectors``)."""
        shards = sorted(Path(collection).glob("*.jsonl"))
        if not shards:
            raise LsrError(f"{collection}: no JsonVectorCollection shards (build the impact index with --keep-vectors)")
        ids: dict[str, int] = {}
        items, weights, sizes = [], [], []
        for shard in shards:
            with open(shard, encoding="utf-8") as handle:
                for line in handle:
                    vector = json.loads(line)["vector"]
                    if vector:
                        items.extend(ids.setdefault(term, len(ids)) for term in vector)
                        weights.extend(int(weight) for weight in vector.values())
                        sizes.append(len(vector))
        if not sizes:
            raise LsrError(f"{collection}: the collection holds no non-empty vectors")
        return cls(np.asarray(items, dtype=np.int32), _offsets(sizes), np.asarray(list(ids), dtype=object),
                   np.asarray(weights, dtype=np.int32))


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, start + size)`` for each pair."""
    return np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())


def _mixtures(real: RealDocuments, count: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per chunk: positions into ``real.items`` grouped by synthetic document (primary's first), and each document's bounds."""
    sources, rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])  # sources alone: the same for texts and vectors
    sizes = real.sizes
    for start in range(0, count, CHUNK):
        m = min(CHUNK, count - start)
        docs, positions = [], []
        primary, secondary = sources.integers(len(sizes), size=m), sources.integers(len(sizes), size=m)
        for source, keep in ((primary, PRIMARY), (secondary, SECONDARY)):
            where = _ranges(real.offsets[source], sizes[source])
            kept = rng.random(len(where)) < keep
            docs.append(np.repeat(np.arange(m), sizes[source])[kept])
            positions.append(where[kept])
        background = np.maximum(rng.binomial(sizes[primary], BACKGROUND), 1)  # never an empty document
        docs.append(np.repeat(np.arange(m), background))
        positions.append(rng.integers(len(real.items), size=int(background.sum())))
        docs, positions = np.concatenate(docs), np.concatenate(positions)
        order = np.argsort(docs, kind="stable")
        yield positions[order], _offsets(np.bincount(docs, minlength=m))


def synthetic_texts(real: RealDocuments, count: int, seed: int = 0) -> Iterator[str]:
    """``count`` documents of whitespace tokens, each a mixture of two real texts (see the module docstring)."""
    for positions, bounds in _mixtures(real, count, seed):
        words = real.names[real.items[positions]]
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            yield " ".join(words[a:b])


def synthetic_rows(real: RealDocuments, count: int, seed: int = 0, top_k: int | None = None,
                   min_ratio: float = 0.0) -> Iterator[sp.csr_matrix]:
    """``count`` impact vectors, each a mixture of two real vectors, as CSR chunks over ``real.names``, pruned like indexed
    documents when ``top_k`` / ``min_ratio`` are given (:func:`lsr.index.pruning.prune_rows`)."""
    from lsr.index.pruning import prune_rows

    if real.weights is None:
        raise LsrError("synthetic vectors need real vectors (RealDocuments.from_collection), not texts")
    for positions, bounds in _mixtures(real, count, seed):
        doc = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
        terms = real.items[positions].astype(np.int64)
        _, first = np.unique(doc * len(real.names) + terms, return_index=True)  # a term drawn twice keeps its first weight
        first = np.sort(first)
        rows = sp.csr_matrix((real.weights[positions[first]], terms[first], _offsets(np.bincount(doc[first], minlength=len(bounds) - 1))),
                             shape=(len(bounds) - 1, len(real.names)))
        yield prune_rows(rows, top_k, min_ratio)


def synthetic_vectors(real: RealDocuments, count: int, seed: int = 0, top_k: int | None = None, min_ratio: float = 0.0) -> Iterator[str]:
    """:func:`synthetic_rows` as ``term<SEP>weight`` texts (:class:`ImpactIndexWriter` input)."""
    for rows in synthetic_rows(real, count, seed, top_k, min_ratio):
        names, weights = real.names[rows.indices], rows.data.tolist()
        for a, b in zip(rows.indptr[:-1].tolist(), rows.indptr[1:].tolist()):
            yield " ".join(f"{names[i]}{SEP}{weights[i]}" for i in range(a, b))


def synthetic_chunks(source_index: Path, count: int, seed: int = 0, min_ratio: float = 0.0) -> Iterator[tuple[list[str], sp.csr_matrix, np.ndarray]]:
    """The documents of the synthetic impact index drawn from ``source_index`` with these settings (ids ``s<i>``), as
    (ids, rows, term names) chunks: the same vectors as :func:`lsr.bench.scale.build` indexes in Lucene."""
    real = RealDocuments.from_collection(Path(source_index) / "collection")
    start = 0
    for rows in synthetic_rows(real, count, seed, min_ratio=min_ratio):
        yield [f"s{i}" for i in range(start, start + rows.shape[0])], rows, real.names
        start += rows.shape[0]


def write_shards(lines: Iterable[str], folder: Path, shard_docs: int = 100_000) -> int:
    """Write JSON lines into ``folder/part-NNNNN.jsonl`` shards; returns the number written."""
    folder.mkdir(parents=True, exist_ok=True)
    count, handle = 0, None
    try:
        for line in lines:
            if count % shard_docs == 0:
                if handle:
                    handle.close()
                handle = open(folder / f"part-{count // shard_docs:05d}.jsonl", "w", encoding="utf-8")
            handle.write(line + "\n")
            count += 1
    finally:
        if handle:
            handle.close()
    return count


def text_records(texts: Iterable[str]) -> Iterator[str]:
    """JsonCollection lines ``{"id": "s<i>", "contents": ...}``."""
    for i, text in enumerate(texts):
        yield json.dumps({"id": f"s{i}", "contents": text}, ensure_ascii=False)
