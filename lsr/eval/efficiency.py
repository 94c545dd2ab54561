"""Sparsity and cost of a sparse searcher's queries against its Lucene index.

- ``avg_query_terms``: distinct terms a query sends to Lucene (BM25: the analyzer's stems;
  impact: the non-zero quantised weights);
- ``avg_doc_terms``: distinct terms per indexed document (Lucene's sum of document frequencies
  over the number of documents);
- ``flops``: the expected number of postings a query touches per document, as in SPLADE's FLOPS
  (Paria et al. 2020): the mean over queries of ``sum_{t in q} df(t) / N``.

Dense searchers have none of these; a hybrid reports its sparse side.
"""

from __future__ import annotations

from statistics import fmean
from typing import Sequence

from lsr.index.manifest import LUCENE_DIR
from lsr.search.lucene import analyzed_terms, term_statistics
from lsr.search.searcher import BM25Searcher, ImpactSearcher, Searcher


def query_terms(searcher: Searcher, query: str) -> list[str] | None:
    """The distinct terms ``searcher`` sends to Lucene for ``query``; None for a searcher without terms (dense)."""
    if isinstance(searcher, BM25Searcher):
        return sorted(set(analyzed_terms(query)))
    if isinstance(searcher, ImpactSearcher):
        return sorted(searcher.quantised(query))
    sparse = getattr(searcher, "sparse", None)  # a hybrid: its sparse side
    return query_terms(sparse, query) if sparse is not None else None


def sparse_stats(searcher: Searcher, queries: Sequence[str]) -> dict:
    """``avg_query_terms``, ``avg_doc_terms`` and ``flops`` of ``searcher`` over ``queries`` (empty for dense)."""
    if isinstance(searcher, BM25Searcher | ImpactSearcher):
        lucene = searcher
    elif isinstance(getattr(searcher, "sparse", None), BM25Searcher | ImpactSearcher):
        lucene = searcher.sparse
    else:
        return {}
    encoded = [query_terms(lucene, q) for q in queries]
    documents, postings, df = term_statistics(lucene.index_dir / LUCENE_DIR, (t for terms in encoded for t in terms))
    return {
        "avg_query_terms": round(fmean(len(t) for t in encoded), 1) if encoded else None,
        "avg_doc_terms": round(postings / max(documents, 1), 1),
        "flops": round(fmean(sum(df[t] for t in terms) / max(documents, 1) for terms in encoded), 3) if encoded else None,
    }
