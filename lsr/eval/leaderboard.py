"""Run the leaderboard matrix: every system on every dataset, compared with the baseline, checked against the pins.

Indexes are reused when up to date (:func:`~lsr.eval.evaluate.ensure_index`). A cell's run is
written to ``<out>/runs/<dataset>/<split>/<system>.trec`` with a ``.json`` beside it holding what
it was made from (index fingerprint, the index's build id, corpus checksum, queries, k, lsr version), the run file's
checksum and the efficiency measurements; a later leaderboard with the same inputs reuses both
instead of searching again (``fresh`` forces a new run). Scores are always computed from the
run file, so a reused run and a fresh one give the same numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import lsr
from lsr import config
from lsr.atomic import atomic_file
from lsr.data import find_local
from lsr.errors import LsrError
from lsr.eval.efficiency import sparse_stats
from lsr.eval.evaluate import ensure_index, index_facts, run_system
from lsr.eval.matrix import DatasetEntry, Matrix, Pin
from lsr.eval.metrics import drop_identical_ids, means, per_query
from lsr.eval.registry import Opened, open_dataset, parse_name
from lsr.eval.runs import read_run, write_run
from lsr.eval.significance import Comparison, paired_ttest
from lsr.index.manifest import read_manifest

OK = "ok"
NOT_AVAILABLE = "not available"
NOT_BUILT = "not built"


@dataclass
class Cell:
    """One system on one dataset: scores, efficiency, comparison with the baseline, pin; or why it did not run."""

    dataset: str
    split: str
    system: str
    label: str
    status: str = OK  # "ok", or the reason it did not run (NOT_BUILT..., NOT_AVAILABLE...)
    queries: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    per_query: dict[str, float] = field(default_factory=dict)  # nDCG@10 of each judged query
    efficiency: dict = field(default_factory=dict)
    comparison: Comparison | None = None
    pin: Pin | None = None

    @property
    def ran(self) -> bool:
        """Whether the system was run on the dataset."""
        return self.status == OK

    @property
    def check(self) -> str:
        """``pass``, ``MOVED``, ``unpinned``, or ``not checked`` (pinned but not run)."""
        if self.pin is None:
            return "unpinned"
        if not self.ran:
            return "not checked"
        return "pass" if self.pin.holds(self.scores["nDCG@10"]) else "MOVED"

    def describe_check(self) -> str:
        """One line: the cell, its measured and expected nDCG@10, or why it was not checked."""
        where = f"{self.dataset}/{self.system}"
        if not self.ran:
            return f"{where}: {self.status}"
        expected = f", expected {self.pin.expected:.4f} ± {self.pin.tolerance:g}" if self.pin else ""
        return f"{where}: nDCG@10 {self.scores['nDCG@10']:.4f}{expected} ({self.check})"


@dataclass
class Leaderboard:
    """The cells of a matrix run, in matrix order (datasets, then systems)."""

    matrix: Matrix
    cells: list[Cell]

    def moved(self) -> list[Cell]:
        """Pinned cells whose nDCG@10 is outside the tolerance."""
        return [c for c in self.cells if c.check == "MOVED"]

    def summary(self) -> list[str]:
        """Every cell of a dataset that ran; elsewhere the pinned cells, or one line for the dataset."""
        lines = []
        for dataset in dict.fromkeys(c.dataset for c in self.cells):
            cells = [c for c in self.cells if c.dataset == dataset]
            ran = any(c.ran for c in cells)
            shown = [c.describe_check() for c in cells if ran or c.pin]
            lines += shown or [f"{dataset}: {cells[0].status}"]
        return lines

    def check_summary(self) -> str:
        """One line: how many pinned cells were checked, how many moved."""
        checked = sum(c.check in ("pass", "MOVED") for c in self.cells)
        return f"check: {checked} pinned cells checked, {len(self.moved())} moved" + ("" if self.problems() else ", all within tolerance")

    def problems(self) -> list[str]:
        """Why ``--check`` fails: moved cells; cells that were asked for explicitly but did not run; nothing checked at all."""
        lines = [c.describe_check() for c in self.moved()]
        for cell in self.cells:
            if (cell.status.startswith(NOT_AVAILABLE) and cell.dataset in self.matrix.requested_datasets
                    or cell.status.startswith(NOT_BUILT) and cell.system in self.matrix.requested_systems):
                lines.append(cell.describe_check() + " (requested explicitly)")
        if not any(c.check in ("pass", "MOVED") for c in self.cells):
            lines.append("no pinned cell was checked: nothing ran that has an expected score")
        return lines


def run_leaderboard(matrix: Matrix, data_dir: str | None = None, out_dir: Path | None = None, threads: int = 2,
                    progress: bool = True, download: bool = False, fresh: bool = False) -> Leaderboard:
    """Run every cell of ``matrix``; datasets absent from the data root become 'not available' cells unless ``download``."""
    cells, out_dir = [], config.out_dir(out_dir)
    for entry in matrix.datasets:
        cells += _dataset_cells(matrix, entry, data_dir, out_dir, threads, progress, download, fresh)
    return Leaderboard(matrix, cells)


def _dataset_cells(matrix: Matrix, entry: DatasetEntry, data_dir, out_dir: Path, threads: int, progress: bool,
                   download: bool, fresh: bool) -> list[Cell]:
    opened = _open(entry, data_dir, download)
    if isinstance(opened, str):
        split = entry.split or parse_name(entry.name)[1] or "test"
        return [Cell(entry.name, split, s.name, s.label, opened, pin=entry.expected.get(s.name)) for s in matrix.systems.values()]
    dataset, split = opened.dataset, opened.split
    queries = dataset.queries(split)
    qrels = dataset.qrels(split)
    cells = []
    for system in matrix.systems.values():
        cell = Cell(dataset.name, split, system.name, system.label, pin=entry.expected.get(system.name), queries=len(queries))
        cells.append(cell)
        if system.missing(dataset.name):
            cell.status = system.missing(dataset.name)
            continue
        index_dir = ensure_index(system.index_recipe(dataset.name), dataset, out_dir, threads, progress)
        run_path = out_dir / "runs" / dataset.name / split / f"{system.name}.trec"
        cell.efficiency = _cached_run(index_dir, run_path, queries, matrix.k, threads, progress, fresh)
        run = read_run(run_path)
        scores = per_query(drop_identical_ids(run) if opened.ignore_identical_ids else run, qrels)
        cell.scores = {m: round(v, 4) for m, v in means(scores).items()}
        cell.per_query = scores["nDCG@10"]
    _compare(matrix, cells)
    return cells


def _open(entry: DatasetEntry, data_dir, download: bool) -> Opened | str:
    """The dataset of ``entry``, or why it is not available (absent here; with ``download``, not downloadable).

    A dataset that is present but invalid (bad records, official counts differ) raises LsrError.
    """
    bare = parse_name(entry.name)[0]
    if find_local(bare, data_dir) is None:
        if not download:
            return f"{NOT_AVAILABLE}: {bare} is not in the data root (--download fetches beir/{bare} when online)"
        try:
            return open_dataset(entry.name, data_dir, entry.split, entry.ignore_identical_ids)
        except LsrError as error:
            return f"{NOT_AVAILABLE}: {error}"
    return open_dataset(entry.name, data_dir, entry.split, entry.ignore_identical_ids)


def _compare(matrix: Matrix, cells: list[Cell]) -> None:
    """Paired t-test of each system's per-query nDCG@10 against the baseline's (Bonferroni over the systems compared)."""
    baseline = next((c for c in cells if c.system == matrix.baseline and c.ran), None)
    if baseline is None:
        return
    others = [c for c in cells if c.ran and c is not baseline]
    for cell in others:
        cell.comparison = paired_ttest(cell.per_query, baseline.per_query, matrix.alpha, len(others) if matrix.bonferroni else 1)


def _cached_run(index_dir: Path, run_path: Path, queries: dict[str, str], k: int, threads: int, progress: bool, fresh: bool) -> dict:
    """Write the run of ``index_dir`` at ``run_path`` unless the one there was made from the same inputs; returns its measurements."""
    manifest = read_manifest(index_dir)
    key = {
        "index": manifest["recipe_fingerprint"],
        "build": manifest.get("build_id"),  # a rebuilt index (new code, a new model, a new ONNX export) is searched again
        "corpus": manifest["corpus"]["sha256"],
        "queries": hashlib.sha256(json.dumps(queries, sort_keys=True).encode()).hexdigest(),
        "k": k,
        "lsr_version": lsr.__version__,
    }
    meta_path = run_path.with_suffix(".json")
    if not fresh and run_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") == key and meta.get("run_sha256") == _sha256(run_path):
            return meta["measured"]
    run, timings = run_system(index_dir, queries, k, threads, progress, inspect=lambda s: sparse_stats(s, list(queries.values())))
    write_run(run, run_path, tag=run_path.stem)
    measured = {**index_facts(index_dir, manifest), **timings}
    with atomic_file(meta_path) as tmp:
        tmp.write_text(json.dumps({"key": key, "run_sha256": _sha256(run_path), "measured": measured}, indent=2), encoding="utf-8")
    return measured


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

