"""A synthetic corpus with SciFact's term statistics, for benchmarking at scale (e.g. 1M documents).

No model encodes the synthetic documents:

- **BM25 text**: each document's length is drawn from the real corpus's length distribution
  (whitespace tokens) and its words from the unigram distribution of the real corpus.
- **Impact vectors**: each document's number of terms is drawn from the encoded real documents
  (an index built with ``--keep-vectors``); its terms are drawn with weights calibrated so that
  every term keeps its real document frequency (so posting-list lengths match), and each term's
  weight is drawn from that term's own real weights.

Both generators stream: documents are produced chunk by chunk (BM25 text into JSONL shards for
Anserini, impact vectors straight into Lucene), so memory stays bounded whatever the number of documents.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from lsr.errors import LsrError
from lsr.index.impact_writer import SEP

CHUNK = 10_000  # documents generated per numpy draw


@dataclass
class TextStats:
    """Unigram distribution and document lengths (whitespace tokens) of a real corpus."""

    words: np.ndarray  # object array of distinct tokens
    probabilities: np.ndarray  # float64, sums to 1
    lengths: np.ndarray  # int32, tokens per real document

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "TextStats":
        """Count the whitespace tokens of ``texts``."""
        counts: Counter = Counter()
        lengths = []
        for text in texts:
            tokens = text.split()
            if tokens:
                counts.update(tokens)
                lengths.append(len(tokens))
        if not lengths:
            raise LsrError("no non-empty text to take statistics from")
        words, freqs = zip(*counts.most_common())
        freqs = np.asarray(freqs, dtype=np.float64)
        return cls(np.asarray(words, dtype=object), freqs / freqs.sum(), np.asarray(lengths, dtype=np.int32))


@dataclass
class VectorStats:
    """The real postings of an impact collection grouped by term, the terms per document, and term sampling weights."""

    fragments: np.ndarray  # object array: each real posting as ``term<SEP>weight`` (see lsr.index.impact_writer), grouped by term
    offsets: np.ndarray  # int64, start of each term's postings in ``fragments`` (one more entry at the end)
    sizes: np.ndarray  # int32, terms per real document
    draw_weights: np.ndarray | None = None  # float64 per term, set by :meth:`calibrate`

    @property
    def df(self) -> np.ndarray:
        """Document frequency of each term."""
        return np.diff(self.offsets)

    @classmethod
    def from_collection(cls, collection: str | Path, calibrate: bool = True) -> "VectorStats":
        """Read a JsonVectorCollection folder (``collection/*.jsonl`` of an index built with ``--keep-vectors``)."""
        shards = sorted(Path(collection).glob("*.jsonl"))
        if not shards:
            raise LsrError(f"{collection}: no JsonVectorCollection shards (build the impact index with --keep-vectors)")
        term_ids: dict[str, int] = {}
        fragments, terms, sizes = [], [], []
        for shard in shards:
            with open(shard, encoding="utf-8") as handle:
                for line in handle:
                    vector = json.loads(line)["vector"]
                    if not vector:
                        continue
                    sizes.append(len(vector))
                    for term, weight in vector.items():
                        terms.append(term_ids.setdefault(term, len(term_ids)))
                        fragments.append(f"{term}{SEP}{int(weight)}")
        if not sizes:
            raise LsrError(f"{collection}: the collection holds no non-empty vectors")
        terms = np.asarray(terms, dtype=np.int64)
        order = np.argsort(terms, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=len(term_ids)))])
        stats = cls(np.asarray(fragments, dtype=object)[order], offsets, np.asarray(sizes, dtype=np.int32))
        if calibrate:
            stats.calibrate()
        return stats

    def calibrate(self, rounds: int = 6, sample: int = 5000, seed: int = 12345) -> None:
        """Set per-term draw weights so that generated documents reproduce each term's document frequency.

        Drawing terms proportionally to their document frequency and keeping the first ``n``
        distinct ones under-represents the most frequent terms (a term in 93% of the documents
        would land in ~63%); each round multiplies a term's weight by real/generated frequency.
        """
        target = self.df / len(self.sizes)
        self.draw_weights = self.df.astype(np.float64)
        for _ in range(rounds):
            counts = np.zeros(len(self.df))
            for ids in _draw_term_ids(self, sample, np.random.default_rng(seed)):
                counts[ids] += 1
            produced = counts / sample
            seen = produced > 0
            self.draw_weights[seen] *= target[seen] / produced[seen]


def _draw_term_ids(stats: VectorStats, count: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``count`` documents as arrays of distinct term ids, drawn in chunks (see :func:`synthetic_vectors`)."""
    weights = stats.draw_weights if stats.draw_weights is not None else stats.df.astype(np.float64)
    cumulative = np.cumsum(weights)
    num_terms = len(weights)
    for start in range(0, count, CHUNK):
        sizes = rng.choice(stats.sizes, size=min(CHUNK, count - start)).astype(np.int64)
        draws = 2 * sizes + 16
        doc = np.repeat(np.arange(len(sizes)), draws)
        term = np.minimum(np.searchsorted(cumulative, rng.random(len(doc)) * cumulative[-1], side="right"), num_terms - 1)
        _, first = np.unique(doc * num_terms + term, return_index=True)  # first draw of each (doc, term)
        first = np.sort(first)  # back in draw order, grouped by document
        doc_of = doc[first]
        per_doc = np.bincount(doc_of, minlength=len(sizes))
        rank = np.arange(len(first)) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)  # position among the document's distinct terms
        kept = first[rank < sizes[doc_of]]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(doc[kept], minlength=len(sizes)))])
        ids = term[kept]
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            yield ids[a:b]


def synthetic_texts(stats: TextStats, count: int, seed: int = 0) -> Iterator[str]:
    """``count`` documents of words drawn from ``stats`` (length and unigram distributions)."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(stats.probabilities)
    for start in range(0, count, CHUNK):
        lengths = rng.choice(stats.lengths, size=min(CHUNK, count - start))
        ids = np.searchsorted(cumulative, rng.random(int(lengths.sum())) * cumulative[-1], side="right")
        ids = np.minimum(ids, len(stats.words) - 1)
        words = stats.words[ids]
        offset = 0
        for length in lengths.tolist():
            yield " ".join(words[offset:offset + length])
            offset += length


def synthetic_vectors(stats: VectorStats, count: int, seed: int = 0) -> Iterator[str]:
    """``count`` documents as ``term<SEP>weight`` texts (:class:`ImpactIndexWriter` input) drawn from the real postings.

    A document's size is drawn from the real sizes; its terms by drawing ``2 n + 16`` term ids
    (proportionally to the calibrated weights) and keeping the first ``n`` distinct ones; each
    term's weight is that of one of its real postings, drawn uniformly.
    """
    rng = np.random.default_rng(seed)
    df = stats.df
    for ids in _draw_term_ids(stats, count, rng):
        postings = stats.offsets[ids] + (rng.random(len(ids)) * df[ids]).astype(np.int64)
        yield " ".join(stats.fragments[postings].tolist())


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
