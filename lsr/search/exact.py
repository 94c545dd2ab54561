"""Exact sparse retrieval with scipy: the reference that Lucene's impact search must reproduce."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from lsr.errors import LsrError
from lsr.index.check import check_index, damaged
from lsr.index.pruning import quantise_weights
from lsr.search.searcher import QueryEncoder, Searcher, _check_k, _check_query, query_encoder
from lsr.types import Hit


class ExactSearcher(Searcher):
    """Brute-force dot products between quantised query weights and an index's kept document vectors."""

    def __init__(self, doc_ids: list[str], matrix: sp.csr_matrix, columns: dict[str, int], encoder: QueryEncoder, scale: float):
        self.doc_ids = doc_ids
        self.matrix = matrix
        self.columns = columns
        self.encoder = encoder
        self.scale = scale

    @classmethod
    def from_index(cls, index_dir: str | os.PathLike) -> "ExactSearcher":
        """Load the vectors of an impact index built with ``keep_vectors=True``."""
        index_dir = Path(index_dir)
        manifest = check_index(index_dir)
        shards = sorted((index_dir / "collection").glob("*.jsonl"))
        if manifest["kind"] != "impact" or not shards:
            raise LsrError(f"{index_dir}: exact search needs an impact index built with --keep-vectors")
        doc_ids, rows, cols, values, columns = [], [], [], [], {}
        for shard in shards:
            with open(shard, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    try:
                        record = json.loads(line)
                        vector, doc_id = record["vector"].items(), record["id"]
                    except (ValueError, KeyError, TypeError, AttributeError) as error:
                        raise damaged(index_dir, f"its kept vectors {shard.name}:{number} cannot be read ({error!r})") from None
                    for term, weight in vector:
                        rows.append(len(doc_ids))
                        cols.append(columns.setdefault(term, len(columns)))
                        values.append(weight)
                    doc_ids.append(doc_id)
        matrix = sp.csr_matrix((np.asarray(values, dtype=np.float64), (rows, cols)), shape=(len(doc_ids), len(columns)))
        return cls(doc_ids, matrix, columns, query_encoder(index_dir, manifest["query"]), float(manifest["query"]["scale"]))

    def sparsity(self, queries: list[str]) -> dict[str, float]:
        """Average active terms per document and per query, and FLOPS: ``sum_j P(d_j != 0) * P(q_j != 0)``."""
        encoded = [quantise_weights(self.encoder.encode(text), self.scale) for text in queries]
        query_active = np.zeros(self.matrix.shape[1])
        for weights in encoded:
            query_active[[self.columns[t] for t in weights if t in self.columns]] += 1 / max(1, len(encoded))
        doc_active = np.asarray((self.matrix != 0).mean(axis=0)).ravel()
        return {
            "avg_doc_terms": round(float(np.diff(self.matrix.indptr).mean()), 1),
            "avg_query_terms": round(float(np.mean([len(w) for w in encoded])) if encoded else 0.0, 1),
            "flops": round(float(doc_active @ query_active), 3),
        }

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` documents by exact dot product, ties broken by doc id; zero scores are not hits."""
        _check_query(query)
        k = _check_k(k)
        weights = quantise_weights(self.encoder.encode(query), self.scale) if query.strip() else {}
        known = {self.columns[t]: w for t, w in weights.items() if t in self.columns}
        if not known:
            return []
        q = np.zeros(self.matrix.shape[1])
        q[list(known)] = list(known.values())
        scores = self.matrix @ q
        candidates = np.flatnonzero(scores > 0)
        ranked = sorted(candidates, key=lambda i: (-scores[i], self.doc_ids[i]))[:k]
        return [Hit(self.doc_ids[i], float(scores[i])) for i in ranked]
