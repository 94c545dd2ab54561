"""Why a document matched a sparse query: its matching terms and what each adds to the score.

Read from Lucene's own ``IndexSearcher.explain`` over the query that the search ran, so the terms'
contributions are what Lucene summed into the hit's score. Under BM25 a term's query weight is its
idf (times its boost) and its document weight BM25's saturated term frequency; in an impact index
(SPLADE, inference-free, the BM25 channel's ``|term`` s) the query weight is the term's integer boost
and the document weight its stored impact, and the contribution is their product. Document weights
are on the index's own (quantised) scale, as are hit scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEXICAL_PREFIX = "|"  # the BM25 channel's terms in an impact index (lsr.encoders.lexical)

_CLAUSE = re.compile(r"^weight\(\w+:(.*) in \d+\) \[")  # weight(FIELD:TERM in DOC) [SIMILARITY], result of:
_FREQ = re.compile(r"freq=([0-9.eE+-]+)")


@dataclass(frozen=True)
class TermMatch:
    """One query term that a document holds: ``contribution`` = ``query_weight`` x ``document_weight``."""

    term: str
    query_weight: float
    document_weight: float
    contribution: float

    @property
    def lexical(self) -> bool:
        """Whether the term is a BM25 channel term (an analysed word, ``|term``) of an impact index."""
        return self.term.startswith(LEXICAL_PREFIX)


def term_matches(explanation, query_weights: dict[str, float] | None = None) -> list[TermMatch]:
    """The matching terms of a Lucene ``Explanation`` of one document, heaviest contribution first.

    ``query_weights``: an impact query's {term: boost}, which Anserini's ``ImpactSimilarity`` leaves out of its
    explanation (it explains the stored impact only); BM25's explanation holds its own.
    """
    clauses = [explanation] if _CLAUSE.match(explanation.getDescription()) else list(explanation.getDetails())
    matches = []
    for clause in clauses:
        found = _CLAUSE.match(clause.getDescription())
        if found is None:
            continue
        term, value = found.group(1), clause.getValue().floatValue()
        if query_weights is None:
            matches.append(TermMatch(term, *_bm25_weights(clause), value))
        else:
            impact = _impact(clause)
            matches.append(TermMatch(term, float(query_weights.get(term, 0.0)), impact, float(query_weights.get(term, 0.0)) * impact))
    return sorted(matches, key=lambda match: (-match.contribution, match.term))


def _bm25_weights(clause) -> tuple[float, float]:
    """(boost x idf, tf) of one term's BM25 explanation (``score = boost * idf * tf``)."""
    score = next(iter(clause.getDetails()))
    parts = {part.getDescription().split(",")[0]: part.getValue().floatValue() for part in score.getDetails()}
    return parts.get("boost", 1.0) * parts["idf"], parts["tf"]


def _impact(clause) -> float:
    """The stored impact of one term's ``ImpactSimilarity`` explanation (``impact(freq=...)``)."""
    details = list(clause.getDetails())
    found = _FREQ.search((details[0] if details else clause).getDescription())
    return float(found.group(1)) if found else clause.getValue().floatValue()
