"""Search a Seismic index (:mod:`lsr.index.seismic`) with the query side of the impact index it was built from."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from lsr.errors import LsrError
from lsr.index.manifest import SEISMIC_FILE, TERMS
from lsr.index.pruning import quantise_weights
from lsr.index.seismic import SeismicSettings, rust_output_silenced
from lsr.search.searcher import Searcher, _check_k, _check_query, query_encoder
from lsr.types import Hit


class SeismicSearcher(Searcher):
    """Approximate top-k by dot product over a Seismic index: the query is weighed as the source impact index weighs it
    (its IDF or model encoder, BM25 channel included, integer weights), then Seismic visits its ``query_cut`` heaviest
    terms' lists and the blocks that ``heap_factor`` lets through (defaults: the index's, :class:`SeismicSettings`;
    :meth:`with_settings` gives others).
    Query terms that no document holds are dropped."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict, query_cut: int | None = None, heap_factor: float | None = None):
        from seismic import SeismicIndex, get_seismic_string

        self.index_dir = Path(index_dir)
        built = manifest.get("seismic", {})
        self.settings = SeismicSettings(**{**built, **{k: v for k, v in (("query_cut", query_cut), ("heap_factor", heap_factor)) if v is not None}})
        self.encoder = query_encoder(self.index_dir, manifest["query"])
        self._model_queries = manifest["query"]["type"] == "model"
        self.scale = float(manifest["query"]["scale"])
        self._terms: dict[str, int] = json.loads((self.index_dir / TERMS).read_text(encoding="utf-8"))
        self._string = get_seismic_string()
        with rust_output_silenced():
            self._index = SeismicIndex.load(str(self.index_dir / SEISMIC_FILE))
        self.closed = False

    def with_settings(self, **changes) -> "SeismicSearcher":
        """A searcher of the same loaded index with other search settings (``query_cut``, ``heap_factor``): no second copy
        of the index in memory."""
        view = copy.copy(self)
        view.settings = dataclasses.replace(self.settings, **changes)
        return view

    def quantised(self, query: str) -> dict[str, int]:
        """The query's integer term weights that the index holds, as sent to Seismic."""
        return {term: weight for term, weight in quantise_weights(self.encoder.encode(query), self.scale).items() if term in self._terms}

    def encode_query(self, query: str) -> None:
        """Encode ``query`` by the model, when queries go through one; tables run no model."""
        if self._model_queries:
            self.encoder.encode(query)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first, ties by document id; where documents tie at the k-th score, Seismic
        returns any of them (Lucene: the first ids)."""
        k = _check_k(k)
        _check_query(query)
        if self.closed:
            raise LsrError(f"{self.index_dir}: this Seismic searcher is closed; open the index again (Searcher.open)")
        weights = self.quantised(query) if query.strip() else {}
        if not weights:
            return []
        components = np.array([str(self._terms[t]) for t in weights], dtype=self._string)
        values = np.fromiter(weights.values(), dtype=np.float32, count=len(weights))
        found = self._index.search("q", components, values, k=int(k), query_cut=self.settings.query_cut, heap_factor=self.settings.heap_factor)
        return sorted((Hit(docid, float(score)) for _, score, docid in found), key=lambda hit: (-hit.score, hit.docid))

    def close(self) -> None:
        """Release the index."""
        self._index = None
        self.closed = True
