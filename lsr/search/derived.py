"""The query side shared by searchers of indexes derived from an impact index (:mod:`lsr.index.vectors`): Seismic, Milvus."""

from __future__ import annotations

import json
from pathlib import Path

from lsr.index.check import damaged
from lsr.index.manifest import TERMS
from lsr.index.pruning import quantise_weights
from lsr.search.searcher import Searcher, query_encoder


class DerivedSearcher(Searcher):
    """A searcher whose queries are weighed as the source impact index weighs them (its IDF table or model, BM25 channel
    included, integer weights), keeping the terms that the derived index numbers in its ``terms.json``."""

    def _open_query_side(self, index_dir: Path, manifest: dict) -> None:
        """Load the query encoder, the query scale and the term ids from ``index_dir``."""
        self.encoder = query_encoder(index_dir, manifest["query"])
        self._model_queries = manifest["query"]["type"] == "model"
        self.scale = float(manifest["query"]["scale"])
        self._terms = read_terms(index_dir)

    def quantised(self, query: str) -> dict[str, int]:
        """The query's integer term weights that the index holds, as sent to its engine."""
        return {term: weight for term, weight in quantise_weights(self.encoder.encode(query), self.scale).items() if term in self._terms}

    def encode_query(self, query: str) -> None:
        """Encode ``query`` by the model, when queries go through one; tables run no model."""
        if self._model_queries:
            self.encoder.encode(query)


def read_terms(index_dir: Path) -> dict[str, int]:
    """A derived index's ``terms.json`` (term -> component id); a damaged index unless it reads as such a mapping."""
    try:
        terms = json.loads((index_dir / TERMS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise damaged(index_dir, f"{TERMS} cannot be read ({error})") from None
    if not isinstance(terms, dict) or not all(isinstance(i, int) and not isinstance(i, bool) for i in terms.values()):
        raise damaged(index_dir, f"{TERMS} does not map terms to integer ids")
    return terms
