"""Search a Seismic index (:mod:`lsr.index.seismic`) with the query side of the impact index it was built from."""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

import numpy as np

from lsr.errors import LsrError
from lsr.index.manifest import SEISMIC_FILE
from lsr.index.native_output import native_output_redirected
from lsr.index.seismic import SEARCH_SETTINGS, SeismicSettings
from lsr.search.derived import DerivedSearcher
from lsr.search.searcher import _check_k, _check_query
from lsr.types import Hit


class SeismicSearcher(DerivedSearcher):
    """Approximate top-k by dot product over a Seismic index: the query is weighed as the source impact index weighs it
    (its IDF or model encoder, BM25 channel included, integer weights), then Seismic visits its ``query_cut`` heaviest
    terms' lists and the blocks that ``heap_factor`` lets through, and with a kNN graph the ``n_knn`` nearest neighbours of
    each result (defaults: the index's, :class:`SeismicSettings`; :meth:`with_settings` gives others).
    Query terms that no document holds are dropped."""

    def __init__(self, index_dir: str | os.PathLike, manifest: dict):
        from seismic import SeismicIndex, get_seismic_string

        self.index_dir = Path(index_dir)
        self.settings = SeismicSettings(**manifest.get("seismic", {}))
        self._open_query_side(self.index_dir, manifest)
        self._string = get_seismic_string()
        with native_output_redirected(1):
            self._index = SeismicIndex.load(str(self.index_dir / SEISMIC_FILE))
        self.closed = False

    def with_settings(self, **changes) -> "SeismicSearcher":
        """A searcher of the same loaded index with other search settings (``query_cut``, ``heap_factor``, ``n_knn``): no second copy
        of the index in memory."""
        view = copy.copy(self)
        unknown = set(changes) - set(SEARCH_SETTINGS)
        if unknown:
            raise LsrError(f"{self.index_dir}: a Seismic search takes {', '.join(SEARCH_SETTINGS)}, not {', '.join(sorted(unknown))}")
        view.settings = dataclasses.replace(self.settings, **changes)
        return view

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first, ties by document id; where documents tie at the k-th score, Seismic
        returns any of them (Lucene: the first ids)."""
        k = _check_k(k)
        _check_query(query)
        if self.closed:
            raise LsrError(f"{self.index_dir}: this Seismic searcher is closed; open the index again (Searcher.open)")
        k = min(k, max(int(self._index.len), 1))  # a deeper k finds no more, and one Seismic cannot allocate aborts the process
        weights = self.quantised(query) if query.strip() else {}
        if not weights:
            return []
        components = np.array([str(self._terms[t]) for t in weights], dtype=self._string)
        values = np.fromiter(weights.values(), dtype=np.float32, count=len(weights))
        found = self._index.search("q", components, values, k=int(k), query_cut=self.settings.query_cut, heap_factor=self.settings.heap_factor,
                                   n_knn=self.settings.n_knn)
        # a graph neighbour that shares no term with the query scores 0: Lucene would not return it, and neither does this
        return sorted((Hit(docid, float(score)) for _, score, docid in found if score > 0), key=lambda hit: (-hit.score, hit.docid))

    def close(self) -> None:
        """Release the index."""
        self._index = None
        self.closed = True
