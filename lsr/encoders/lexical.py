"""A BM25 channel inside an impact index: the lexical evidence a learned model builds on.

An impact index scores ``s(q, d) = sum_t q_t * d_t`` over whatever terms its vectors hold. Next to
a learned model's WordPiece terms, a document can also carry the terms that Anserini's default
English analyzer (lowercasing, stopwords, Porter stemming) makes of its text, each written as
``|term`` (WordPiece never yields a term that starts with ``|``) with the BM25 impact

    weight * tf / (tf + k1 * (1 - b + b * dl / avgdl))

and a query then carries its analysed terms with weight ``count * idf`` (Lucene's BM25 idf over
the indexed corpus). With ``weight`` 1 the channel scores exactly as Lucene's ``BM25Similarity``
(up to Lucene's lossy one-byte document lengths), so one posting traversal scores
``weight * BM25 + learned``: the linear fusion of BM25 with a learned sparse model (as in
Pyserini's hybrid runs, Lin & Ma 2021, "A Few Brief Notes on DeepImpact, COIL, and a Conceptual
Framework for Information Retrieval Techniques"), computed at index time instead of from two
searches. Where the learned model knows nothing of a corpus, BM25 still ranks; where it knows,
its expansions and weights move documents up.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np
from tqdm.auto import tqdm

from lsr.encoders.idf import bm25_idf

PREFIX = "|"


class Analyzer:
    """Anserini's default English analyzer (the one its BM25 indexes use), called through the JVM."""

    def __init__(self):
        from lsr.jvm.classes import english_terms

        self._terms = english_terms()

    def terms(self, text: str) -> list[str]:
        """The analysed terms of ``text``, in order, repeats kept."""
        return self._terms(text) if text else []


class LexicalChannel:
    """BM25 statistics of a corpus: document impacts and the query idf table of the BM25 channel."""

    def __init__(self, texts: Iterable[str], k1: float = 0.9, b: float = 0.4, weight: float = 1.0,
                 total: int | None = None, progress: bool = True, analyzer: Analyzer | None = None):
        self.k1, self.b, self.weight = k1, b, weight
        analyzer = analyzer or Analyzer()
        self.terms: dict[str, int] = {}
        self._rows: list[tuple[np.ndarray, np.ndarray]] = []
        lengths = []
        for text in tqdm(texts, desc="bm25 channel", unit="doc", total=total, disable=not progress):
            counts = Counter(analyzer.terms(text))
            ids = np.fromiter((self.terms.setdefault(t, len(self.terms)) for t in counts), dtype=np.int32, count=len(counts))
            self._rows.append((ids, np.fromiter(counts.values(), dtype=np.float32, count=len(counts))))
            lengths.append(sum(counts.values()))
        self.lengths = np.asarray(lengths, dtype=np.float32)
        self.avgdl = float(self.lengths.mean()) if len(lengths) else 0.0
        df = np.zeros(len(self.terms), dtype=np.int64)
        for ids, _ in self._rows:
            df[ids] += 1
        self.idf = bm25_idf(df, len(self._rows))
        self._names = np.array([PREFIX + t for t in self.terms], dtype=object)

    def document(self, row: int) -> dict[str, float]:
        """The BM25 channel's ``{|term: impact}`` of the ``row``-th document."""
        ids, tf = self._rows[row]
        norm = self.k1 * (1 - self.b + self.b * self.lengths[row] / max(self.avgdl, 1e-9))
        impacts = self.weight * tf / (tf + norm)
        return dict(zip(self._names[ids].tolist(), impacts.tolist()))

    def idf_table(self) -> dict[str, float]:
        """``{term: idf}`` of every analysed term of the corpus (the query side, without the prefix)."""
        return dict(zip(self.terms, self.idf.tolist()))


class LexicalQueryEncoder:
    """Wraps a query encoder: its terms, plus the query's analysed terms weighted ``count * idf``."""

    def __init__(self, encoder, idf: dict[str, float], analyzer: Analyzer | None = None):
        self.encoder = encoder
        self.idf = idf
        self.analyzer = analyzer or Analyzer()

    def encode(self, query: str) -> dict[str, float]:
        """The wrapped encoder's ``{term: weight}`` and the BM25 channel's ``{|term: count x idf}``."""
        weights = dict(self.encoder.encode(query))
        for term, count in Counter(self.analyzer.terms(query)).items():
            if self.idf.get(term, 0.0) > 0:
                weights[PREFIX + term] = count * self.idf[term]
        return weights
