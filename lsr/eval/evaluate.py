"""Evaluate systems on a BEIR dataset: build (or reuse) each index, search, score, tabulate.

An evaluation recipe (``eval/*.yaml``) names a dataset, a split and the index recipes of the
systems to compare (sparse, dense or hybrid). Indexes are reused when their manifest matches the
recipe and the corpus checksum (a hybrid's manifest is rewritten every time: it is only a
pointer to its two components and the fusion settings); runs are written as TREC files; results
as JSON and a markdown table.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from tqdm.auto import tqdm

from lsr import config, markdown
from lsr.data import Dataset, load_dataset
from lsr.errors import LsrError
from lsr.eval.metrics import METRICS, evaluate
from lsr.eval.runs import write_run
from lsr.fusion import FusionConfig
from lsr.index.check import REUSE_KEYS, check_index
from lsr.index.manifest import LUCENE_DIR, SPARSE_KINDS, check_replaceable, index_bytes, read_manifest
from lsr.index.recipe import DenseRecipe, HybridRecipe, IndexRecipe, load_recipe
from lsr.recipe_files import (
    COUNT,
    check_flag,
    check_keys,
    check_numbers,
    check_plain,
    check_strings,
    made,
    name_or_path,
    read_recipe,
    resolve_relative,
)

if TYPE_CHECKING:
    from lsr.search import Searcher

Recipe = IndexRecipe | DenseRecipe | HybridRecipe

log = logging.getLogger(__name__)

LATENCY_QUERIES = 100  # single-thread k=10 latency is the median over these, after one warm-up pass


@dataclass
class EvalRecipe:
    """Which systems to evaluate on which dataset split."""

    dataset: str
    systems: list[str]
    split: str = "test"
    k: int = 1000
    ignore_identical_ids: bool = True
    path: Path | None = field(default=None, repr=False)  # the recipe file, whose folder relative system paths start from

    def __post_init__(self):
        what = f"recipe {self.name!r}"
        check_strings(self, ("dataset",))
        if not isinstance(self.systems, list) or not self.systems or not all(isinstance(s, str) for s in self.systems):
            raise LsrError(f"{what}: systems must be a list of index recipe paths, got {self.systems!r}")
        check_plain(self.split, f"{what}: split", "test or dev")
        check_numbers(self, {"k": COUNT}, what)
        check_flag(self.ignore_identical_ids, f"{what}: ignore_identical_ids")

    @property
    def name(self) -> str:
        """What errors call the recipe: its file name without the suffix."""
        return self.path.stem if self.path else "evaluation"

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EvalRecipe":
        """Read an evaluation recipe; system paths (and a dataset given as a path) are relative to the recipe's folder."""
        path = Path(path)
        data = read_recipe(path)
        check_keys(path, data, {"dataset", "systems", "split", "k", "ignore_identical_ids"})
        if "dataset" not in data or not data.get("systems"):
            raise LsrError(f"{path}: an evaluation recipe needs 'dataset' and a list of 'systems'")
        data["dataset"] = name_or_path(path, data["dataset"], "dataset")
        return made(path, cls, {**data, "path": path})

    def index_recipes(self) -> list[Recipe]:
        """The systems' index recipes (relative paths from the recipe file's folder; from the working directory without one).

        Two systems of one name are refused: they would write one index folder and one run file.
        """
        recipes = [load_recipe(resolve_relative(self.path, system) if self.path else system) for system in self.systems]
        where = self.path or "evaluation recipe"
        names = [recipe.name for recipe in recipes]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise LsrError(f"{where}: systems {self.systems[names.index(name)]} and {self.systems[i]} are both named {name!r}: "
                               "they would write one index folder and one run file; give one of them another name")
        check_index_names(list(zip(self.systems, recipes)), where)
        return recipes


def check_index_names(systems: list[tuple[str, Recipe]], where: str) -> None:
    """LsrError when two indexes of ``systems`` (what the file calls each system, its recipe), a hybrid's components included,
    have one name but other settings: both would be built in ``<out>/indexes/<dataset>/<name>``, each replacing the other."""
    seen: dict[str, tuple[Recipe, str]] = {}
    for system, recipe in systems:
        for index in (recipe, *recipe.sparse_recipes, recipe.dense) if isinstance(recipe, HybridRecipe) else (recipe,):
            first, first_system = seen.setdefault(index.name, (index, system))
            if first != index:
                raise LsrError(f"{where}: systems {first_system} and {system} both build an index named {index.name!r}, with other "
                               "settings: each would replace the other's; give one of them another name")


def index_path(recipe: Recipe, dataset: Dataset, out_dir: Path) -> Path:
    """Where the index of ``recipe`` over ``dataset`` goes unless told: ``<out_dir>/indexes/<dataset>/<recipe name>``."""
    return out_dir / "indexes" / dataset.name / recipe.name


def build_recipe_index(recipe: Recipe, dataset: Dataset, output: Path, out_dir: Path, threads: int, progress: bool,
                       keep_vectors: bool = False, vectors_from: str | None = None, ray=None) -> dict:
    """Build the index of ``recipe`` (any kind) at ``output``, replacing what is there; returns its manifest.

    ``keep_vectors``, ``vectors_from`` and ``ray`` (a :class:`lsr.index.ray_encoding.RayEncoding`) apply to impact indexes; a
    hybrid's components go under ``out_dir`` and are reused when up to date (``keep_vectors``: its sparse ones keep theirs).
    """
    if ray is not None and not isinstance(recipe, IndexRecipe):
        raise LsrError(f"--ray encodes the documents of sparse model indexes; {recipe.name!r} is a {type(recipe).__name__}")
    if vectors_from and not isinstance(recipe, IndexRecipe):
        raise LsrError(f"--vectors-from reuses the vectors of an impact index for a sparse recipe; {recipe.name!r} is a {type(recipe).__name__}")
    if isinstance(recipe, IndexRecipe):
        from lsr.index.build import build_index

        return build_index(recipe, dataset, output, threads=threads, progress=progress, keep_vectors=keep_vectors, vectors_from=vectors_from,
                           ray=ray)
    if isinstance(recipe, DenseRecipe):
        from lsr.index.dense import build_dense_index

        return build_dense_index(recipe, dataset, output, threads=threads, progress=progress)
    return read_manifest(ensure_index(recipe, dataset, out_dir, threads, progress, keep_vectors, output=output))


def index_recipe_file(recipe_path: str | os.PathLike, dataset: str, data_dir: str | None = None, out_dir: Path | None = None,
                      output: str | os.PathLike | None = None, threads: int = 2, progress: bool = True, **options) -> tuple[Path, dict]:
    """``lsr index``: build the index of the recipe at ``recipe_path`` over ``dataset`` (a name under the data root or a folder) at
    ``output``, else at :func:`index_path`; ``options`` as :func:`build_recipe_index`'s. Returns the index folder and its manifest."""
    recipe, out_dir = load_recipe(recipe_path), config.out_dir(out_dir)
    loaded = load_dataset(dataset, data_dir, corpus_only=True)  # indexing reads the corpus only
    output = Path(output) if output else index_path(recipe, loaded, out_dir)
    check_replaceable(output)  # before a hybrid's components are built
    return output, build_recipe_index(recipe, loaded, output, out_dir, threads, progress, **options)


def index_summary(index_dir: Path, manifest: dict) -> str:
    """One line about a built index: its folder, kind, documents, size on disk and build time."""
    size = index_bytes(manifest) / 2**20
    return f"{index_dir}: {manifest['kind']}, {manifest['num_docs']} documents, {size:.1f} MiB, built in {manifest['build_seconds']} s"


def ensure_index(recipe: Recipe, dataset: Dataset, out_dir: Path, threads: int, progress: bool,
                 keep_vectors: bool = False, output: Path | None = None) -> Path:
    """The index of ``recipe`` over ``dataset`` (at ``output``, else under ``out_dir``), built unless an up-to-date one exists.

    A hybrid's components go under ``out_dir`` (reused when up to date; ``keep_vectors`` applies to its sparse ones); its own
    manifest is rewritten. An index that
    cannot be read is rebuilt (:func:`reusable`); a folder that is not lsr's is never replaced (:func:`lsr.index.manifest.building`).
    """
    index_dir = output or index_path(recipe, dataset, out_dir)
    if isinstance(recipe, HybridRecipe):
        from lsr.index.hybrid import build_hybrid

        sparse = ensure_index(recipe.sparse, dataset, out_dir, threads, progress, keep_vectors)
        more = tuple(ensure_index(r, dataset, out_dir, threads, progress, keep_vectors) for r in recipe.more_sparse)
        dense = ensure_index(recipe.dense, dataset, out_dir, threads, progress)
        build_hybrid(recipe, sparse, dense, index_dir, more)
        return index_dir
    if reusable(index_dir, recipe, dataset, keep_vectors):
        return index_dir
    if isinstance(recipe, DenseRecipe):
        from lsr.index.dense import build_dense_index

        build_dense_index(recipe, dataset, index_dir, threads=threads, progress=progress)
    else:
        from lsr.index.build import build_index

        build_index(recipe, dataset, index_dir, threads=threads, progress=progress, keep_vectors=keep_vectors)
    return index_dir


def reusable(index_dir: Path, recipe: Recipe, dataset: Dataset, keep_vectors: bool = False) -> bool:
    """Whether ``index_dir`` holds an index of ``recipe`` over ``dataset`` that can be searched as it is: whole
    (:func:`lsr.index.check.check_index`, and Lucene opens a sparse one) and built from the same settings and corpus.

    Why a damaged index is not reused is logged as a warning; an absent, outdated or damaged one is to be (re)built.
    """
    if not index_dir.exists():
        return False
    try:
        manifest = check_index(index_dir, REUSE_KEYS)
        if manifest["kind"] in SPARSE_KINDS:
            from lsr.search.lucene import check_readable

            check_readable(index_dir / LUCENE_DIR)
    except LsrError as error:
        log.warning("rebuilding: %s", error)
        return False
    return (manifest["recipe_fingerprint"] == recipe.fingerprint() and manifest["corpus"]["sha256"] == dataset.corpus_sha256
            and (not keep_vectors or (index_dir / "collection").is_dir()))


def run_system(index_dir: Path, queries: dict[str, str], k: int, threads: int, progress: bool,
               exact: bool = False, inspect: Callable[[Searcher], dict] | None = None) -> tuple[dict, dict]:
    """Search every query through Lucene (or, with ``exact``, scipy over the kept vectors); returns (run, timings).

    Latency is single-thread at k=10 over the first LATENCY_QUERIES queries after a warm-up pass
    (p50 and p95); ``query_encode_ms`` is the p50 of the query model alone on the same queries
    (:meth:`Searcher.encode_query`: 0 where none runs). ``inspect``, if given, is called with the open searcher; what it returns is
    merged into the timings.
    """
    from lsr.search import Searcher
    from lsr.search.exact import ExactSearcher

    started = time.perf_counter()
    with (ExactSearcher.from_index(index_dir) if exact else Searcher.open(index_dir)) as searcher:
        opened = time.perf_counter() - started
        sample = list(queries.values())[:LATENCY_QUERIES]
        for text in sample:  # warm-up: JIT, caches
            searcher.search(text, k=10)
        latencies, encoding = [], []
        for text in tqdm(sample, desc=f"{index_dir.name}: latency", unit="q", disable=not progress, leave=False):
            tick = time.perf_counter()
            searcher.search(text, k=10)
            searched = time.perf_counter()
            searcher.encode_query(text)
            latencies.append((searched - tick) * 1000)
            encoding.append((time.perf_counter() - searched) * 1000)
        tick = time.perf_counter()
        results = searcher.batch_search(list(queries.values()), k=k, threads=threads)
        batch_seconds = time.perf_counter() - tick
        extra = inspect(searcher) if inspect else {}
    run = {qid: {hit.docid: hit.score for hit in hits} for qid, hits in zip(queries, results)}
    timings = {
        "open_s": round(opened, 2),
        "p50_ms_k10": round(statistics.median(latencies), 2) if latencies else None,
        "p95_ms_k10": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
        "query_encode_ms": round(statistics.median(encoding), 2) if encoding else None,
        "batch_qps": round(len(queries) / max(batch_seconds, 1e-9), 1),
        **extra,
    }
    return run, timings



def evaluate_recipe(recipe: EvalRecipe, data_dir: str | None = None, out_dir: Path | None = None,
                    threads: int = 2, progress: bool = True, exact: bool = False) -> list[dict]:
    """Evaluate every system of ``recipe``; writes runs and results under ``out_dir``; returns the rows.

    With ``exact``, each impact system is also searched by brute-force scipy dot products over the
    same quantised vectors (a row named ``<system> (exact)``), which Lucene must reproduce.
    """
    out_dir, systems = config.out_dir(out_dir), recipe.index_recipes()  # systems that share a name are refused before any work
    dataset = load_dataset(recipe.dataset, data_dir)
    queries = dataset.queries(recipe.split)
    qrels = dataset.qrels(recipe.split)
    rows = []
    for system in systems:
        index_dir = ensure_index(system, dataset, out_dir, threads, progress, keep_vectors=exact and system.kind == "impact")
        variants = [(system.name, False)] + ([(f"{system.name} (exact)", True)] if exact and system.kind == "impact" else [])
        for name, use_exact in variants:
            run, timings = run_system(index_dir, queries, recipe.k, threads, progress, exact=use_exact)
            write_run(run, out_dir / "runs" / dataset.name / recipe.split / f"{name.replace(' ', '_')}.trec", tag=name.replace(" ", "_"))
            rows.append(_row(name, index_dir, evaluate(run, qrels, ignore_identical_ids=recipe.ignore_identical_ids), timings))
    results = out_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    stem = f"{dataset.name}-{recipe.split}"
    (results / f"{stem}.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    (results / f"{stem}.md").write_text(markdown_table(rows, f"{dataset.name} ({recipe.split}, {len(queries)} queries)"), encoding="utf-8")
    return rows


def _row(name: str, index_dir: Path, scores: dict, timings: dict) -> dict:
    manifest = read_manifest(index_dir)
    fusion = dict(manifest.get("fusion") or {})
    if fusion.get("list_weights") is not None:
        fusion["list_weights"] = tuple(fusion["list_weights"])
    return {
        "system": name,
        **{m: round(scores[m], 4) for m in METRICS},
        **index_facts(index_dir, manifest),
        "avg_doc_terms": manifest.get("avg_doc_terms"),
        **timings,
        "fusion": FusionConfig(**fusion).describe() if fusion else None,
    }


def index_facts(index_dir: Path, manifest: dict) -> dict:
    """Size on disk (MiB), build seconds and document encoding rate of an index, from its manifest.

    A hybrid's rate is that of encoding each document with both of its components (1 / sum of 1/rate).
    """
    rate = manifest.get("encode_docs_per_s")
    if manifest["kind"] == "hybrid":
        rates = [read_manifest(index_dir / manifest[side]).get("encode_docs_per_s") for side in ("sparse", "dense")]
        rates = [r for r in rates if r]
        rate = round(1 / sum(1 / r for r in rates), 1) if rates else None
    return {
        "index_mb": round(index_bytes(manifest) / 2**20, 1),
        "build_s": manifest["build_seconds"],
        "encode_docs_per_s": rate,
    }


def markdown_table(rows: list[dict], title: str) -> str:
    """Rows of results as a markdown table under a heading."""
    columns = list(rows[0]) if rows else []
    return "\n".join([f"### {title}", "", *markdown.markdown_table(columns, ([row[c] for c in columns] for row in rows))]) + "\n"
