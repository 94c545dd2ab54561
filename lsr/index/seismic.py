"""Seismic indexes: the vectors of an impact index in Seismic's approximate inverted index, searched in Rust.

Seismic (Bruch et al. 2024, "Efficient Inverted Indexes for Approximate Retrieval over Learned Sparse
Representations", SIGIR; the ``pyseismic-lsr`` package) keeps each term's heaviest postings (``n_postings`` on
average per list), groups each list into blocks with a summary vector, and at query time visits only the query's
``query_cut`` heaviest terms and the blocks whose summary could still beat the ``heap_factor``-scaled k-th score.
With a kappa-NN graph (Bruch et al. 2024, "Pairing Clustered Inverted Indexes with kappa-NN Graphs for Fast Approximate
Retrieval over Learned Sparse Representations", CIKM; ``nknn`` neighbours per document) the search also scores the
``n_knn`` nearest neighbours of each result, which finds near-duplicates of a hit that the block pruning skipped.
:func:`build_seismic` writes one from the kept vectors (``--keep-vectors``) of an lsr impact index, BM25 channel
included, so that it scores the same dot products over the same integer impacts; the query side (tokenizer, IDF
table, lexical table) is copied from that index. ``lsr export seismic INDEX`` runs it; ``Searcher.open`` searches
the result (:class:`lsr.search.seismic.SeismicSearcher`).

Seismic knows components by integer id: the index keeps its own ``terms.json`` (term -> id) beside Seismic's file.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from lsr.errors import LsrError
from lsr.index.manifest import SEISMIC_FILE, TERMS, Manifest, building, read_manifest, write_manifest
from lsr.index.native_output import native_output_redirected
from lsr.index.vectors import derived_manifest, impact_source, kept_vectors

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

log = logging.getLogger(__name__)

SEARCH_SETTINGS = ("query_cut", "heap_factor", "n_knn")
"""The fields of :class:`SeismicSettings` that a search may change; the others are the build's."""


@dataclass(frozen=True)
class SeismicSettings:
    """Seismic's build knobs (its names and defaults) and the search defaults that a searcher of the index starts from; the
    metadata of each field says what it does (and is the help of ``lsr export seismic``'s option of that name)."""

    n_postings: int = field(default=3500, metadata={"help": "postings kept per term on average, the heaviest"})
    summary_energy: float = field(default=0.4, metadata={"help": "share of a block's weight its summary keeps, in (0, 1]"})
    centroid_fraction: float = field(default=0.1, metadata={"help": "blocks per list as a fraction of its postings, in (0, 1]"})
    min_cluster_size: int = 2
    max_fraction: float = 1.5
    doc_cut: int = field(default=15, metadata={"help": "document terms used to assign it to a block"})
    nknn: int = field(default=0, metadata={"help": "neighbours per document in a kNN graph built with the index, 0: none (slow to "
                                                   "build: a search per document)"})
    query_cut: int = field(default=10, metadata={"help": "search default: query terms whose lists are visited"})
    heap_factor: float = field(default=0.8, metadata={"help": "search default, in (0, 1]: lower visits more blocks, slower, closer to exact"})
    n_knn: int = field(default=0, metadata={"help": "search default: graph neighbours of each result also scored, at most nknn"})

    def __post_init__(self) -> None:
        """LsrError naming the first setting outside its range."""
        for names, low, kind in ((("n_postings", "min_cluster_size", "doc_cut", "query_cut"), 1, "a positive integer"),
                                 (("nknn", "n_knn"), 0, "a whole number")):
            for name in names:
                value = getattr(self, name)
                if not isinstance(value, int) or isinstance(value, bool) or value < low:
                    raise LsrError(f"seismic setting {name} must be {kind}, got {value!r}")
        for name, low, high in (("summary_energy", 0.0, 1.0), ("centroid_fraction", 0.0, 1.0), ("heap_factor", 0.0, 1.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not low < value <= high:
                raise LsrError(f"seismic setting {name} must be in ({low:g}, {high:g}], got {value!r}")
        if self.n_knn > self.nknn:
            raise LsrError(f"seismic setting n_knn ({self.n_knn}) must be at most nknn, the neighbours per document in the index's "
                           f"kNN graph ({self.nknn})")
        if not isinstance(self.max_fraction, (int, float)) or isinstance(self.max_fraction, bool) or not 1.0 <= self.max_fraction < float("inf"):
            raise LsrError(f"seismic setting max_fraction must be a finite number >= 1, got {self.max_fraction!r}")


def is_seismic(path: Path) -> bool:
    """Whether ``path`` is a Seismic index that lsr wrote."""
    try:
        return read_manifest(path).get("kind") == "seismic"
    except LsrError:
        return False


def seismic_dataset(chunks: Iterable[tuple[list[str], sp.csr_matrix, np.ndarray]]):
    """A ``SeismicDataset`` of the chunks' documents, and the term -> component id map it was numbered with."""
    import numpy as np
    import scipy.sparse as sp
    from seismic import SeismicDataset

    dataset, terms = SeismicDataset(), {}
    for doc_ids, rows, names in chunks:
        ids = np.fromiter((terms.setdefault(str(name), len(terms)) for name in names), dtype=np.int64, count=len(names))
        numbered = sp.csr_matrix((rows.data.astype(np.float32), ids[rows.indices], rows.indptr), shape=(rows.shape[0], len(terms)))
        numbered.sum_duplicates()  # sorts each row's components, as Seismic requires
        empty = np.diff(numbered.indptr) == 0
        if empty.any():
            raise LsrError(f"document {doc_ids[int(np.argmax(empty))]!r} has no terms; Seismic cannot index an empty vector")
        dataset.add_documents_by_id(list(doc_ids), numbered.indices.astype(np.int64), numbered.data.astype(np.float32),
                                    numbered.indptr.astype(np.int64))
    if not terms:
        raise LsrError("no documents to build a Seismic index from")
    return dataset, terms


def build_seismic(source: str | os.PathLike, output: str | os.PathLike, settings: SeismicSettings = SeismicSettings(),
                  chunks: Iterable[tuple[list[str], sp.csr_matrix, np.ndarray]] | None = None, threads: int = 2) -> Manifest:
    """Build a Seismic index in ``output`` from impact index ``source``: its kept vectors (or ``chunks`` of the same
    terms, e.g. a synthetic corpus drawn from them) and its query side. Written beside ``output``, renamed when complete."""
    from seismic import SeismicIndex

    from lsr.config import check_threads

    check_threads(threads)
    source, output = Path(source), Path(output)
    manifest = impact_source(source, "a Seismic index")
    started = time.perf_counter()
    with building(output, own=is_seismic, what="an lsr Seismic index") as tmp:
        dataset, terms = seismic_dataset(kept_vectors(source) if chunks is None else chunks)
        build = {key: value for key, value in asdict(settings).items() if key not in SEARCH_SETTINGS}
        graph = (f", then its kNN graph ({settings.nknn} neighbours per document): one search per document, for 1M documents over "
                 "an hour on 2 threads") if settings.nknn else ""
        log.info("%s: building a Seismic index of %d documents on %d threads%s", output.name, dataset.len, threads, graph)
        with native_output_redirected(1):  # Seismic's Rust prints list counts and "Saving ..." on stdout
            index = SeismicIndex.build_from_dataset(dataset, **build, num_threads=threads)
            index.save(str(tmp / SEISMIC_FILE.removesuffix(".index.seismic")))
        (tmp / TERMS).write_text(json.dumps(terms), encoding="utf-8")
        built = derived_manifest(source, manifest, tmp, "seismic", int(index.len), asdict(settings), started)
        write_manifest(tmp, built)
    return read_manifest(output)
