"""The leaderboard matrix (``eval/leaderboard.yaml``): datasets x systems, with pinned nDCG@10 per cell.

In the spirit of Pyserini's regression files: each system names an index recipe (a path relative to the
matrix file's folder, as are ``requires`` and ``encoder``, in which ``{dataset}`` stands for the dataset's
name), each dataset lists the cells whose nDCG@10 is pinned (``expected``) with a tolerance. A cell is a
number (the default tolerance applies) or ``{nDCG@10: value, tolerance: t, source: text}``. A dataset in
the matrix (or given on the command line) that is not in the BEIR table is simply read from the data
root: adding one is a YAML line, not code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsr.errors import LsrError
from lsr.eval.evaluate import check_index_names
from lsr.recipe_files import COUNT, Number, check_flag, check_keys, check_numbers, check_plain, made, read_recipe, resolve_relative


@dataclass(frozen=True)
class System:
    """One column of the matrix: an index recipe, a display label, an optional file it needs (e.g. a trained model),
    and optionally a model of each dataset's own (``encoder``, e.g. ``../out/adapt/{dataset}/model``: one that
    ``lsr adapt`` made for that corpus), which replaces the recipe's encoder."""

    name: str
    recipe: Path
    label: str
    requires: str | None = None   # a path; ``{dataset}`` stands for the dataset's name
    encoder: str | None = None    # likewise

    def missing(self, dataset: str) -> str | None:
        """Why this system cannot be built for ``dataset`` here (its required path is absent), else None."""
        for needed in (self.requires, self.encoder):
            if needed is not None and not Path(needed.format(dataset=dataset)).exists():
                return f"not built: {needed.format(dataset=dataset)} is missing"
        return None

    def index_recipe(self, dataset: str):
        """The index recipe of this system for ``dataset``: its recipe file, with the dataset's own encoder if it has one
        (then named after the system, so its index has a folder of its own)."""
        from lsr.index.recipe import load_recipe

        recipe = load_recipe(self.recipe)
        if self.encoder and recipe.kind == "hybrid":
            raise LsrError(f"system {self.name!r}: encoder replaces the encoder of a sparse or dense recipe; {self.recipe} is a hybrid one")
        return replace(recipe, name=self.name, encoder=self.encoder.format(dataset=dataset)) if self.encoder else recipe


@dataclass(frozen=True)
class Pin:
    """An expected nDCG@10 and its tolerance (where the number comes from, if not measured here)."""

    expected: float
    tolerance: float
    source: str = ""

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` is within the tolerance (rounded to 4 places, as reported)."""
        return abs(round(measured, 4) - self.expected) <= self.tolerance + 1e-9


@dataclass(frozen=True)
class DatasetEntry:
    """One row group of the matrix: a dataset name, optional split / identical-id override, and its pinned cells."""

    name: str
    split: str | None = None
    ignore_identical_ids: bool | None = None
    expected: dict[str, Pin] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    """The results table that a full leaderboard run writes into another file (the README), between its markers."""

    file: Path
    dataset: str
    systems: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    """Datasets x systems, the baseline for significance tests, and where the generated leaderboard goes."""

    path: Path
    systems: dict[str, System]
    datasets: list[DatasetEntry]
    baseline: str = "bm25"
    k: int = 1000
    alpha: float = 0.05
    bonferroni: bool = True
    summary: Summary | None = None
    requested_datasets: tuple[str, ...] = ()  # named on the command line: must run for --check to pass
    requested_systems: tuple[str, ...] = ()

    def __post_init__(self):
        check_numbers(self, {"k": COUNT, "alpha": Number(low=0, high=1, above=True)}, str(self.path))
        check_flag(self.bonferroni, f"{self.path}: bonferroni")

    @property
    def narrowed(self) -> bool:
        """Whether the command line picked datasets or systems."""
        return bool(self.requested_datasets or self.requested_systems)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Matrix":
        """Read and check a matrix YAML; recipe and ``requires`` paths are relative to the matrix file's folder."""
        path = Path(path)
        data = read_recipe(path)
        check_keys(path, data, {"systems", "datasets", "baseline", "k", "alpha", "bonferroni", "tolerance", "summary"})
        if not isinstance(data.get("systems"), dict) or not data["systems"]:
            raise LsrError(f"{path}: 'systems' must map system names to {{recipe, label, requires, encoder}}")
        if not isinstance(data.get("datasets"), dict) or not data["datasets"]:
            raise LsrError(f"{path}: 'datasets' must map dataset names to {{split, ignore_identical_ids, expected}}")
        systems = {name: _system(path, name, spec) for name, spec in data["systems"].items()}
        check_index_names([(repr(s.name), made(path, s.index_recipe, {"dataset": "{dataset}"})) for s in systems.values()], str(path))
        tolerance = _number(path, "tolerance", data.get("tolerance", 0.002))
        datasets = [_dataset(path, name, spec or {}, systems, tolerance) for name, spec in data["datasets"].items()]
        baseline = data.get("baseline", "bm25")
        if not isinstance(baseline, str) or baseline not in systems:
            raise LsrError(f"{path}: baseline {baseline!r} is not one of the systems ({', '.join(systems)})")
        summary = _summary(path, data["summary"], systems, datasets) if data.get("summary") is not None else None
        return cls(path, systems, datasets, baseline, data.get("k", 1000), data.get("alpha", 0.05), data.get("bonferroni", True), summary)

    def select(self, datasets: list[str] | None = None, systems: list[str] | None = None) -> "Matrix":
        """The matrix narrowed to some datasets (names not in it are added, unpinned) and/or systems (must exist)."""
        if not datasets and not systems:
            return self
        chosen_systems = self.systems
        if systems:
            unknown = [s for s in systems if s not in self.systems]
            if unknown:
                raise LsrError(f"unknown system(s) {', '.join(unknown)} (the matrix {self.path} has: {', '.join(self.systems)})")
            chosen_systems = {s: self.systems[s] for s in systems}
        chosen_datasets = self.datasets
        if datasets:
            by_name = {d.name: d for d in self.datasets}
            chosen_datasets = [by_name.get(name, DatasetEntry(name)) for name in datasets]
        chosen_datasets = [replace(d, expected={s: p for s, p in d.expected.items() if s in chosen_systems}) for d in chosen_datasets]
        return replace(self, systems=chosen_systems, datasets=chosen_datasets,
                       requested_datasets=tuple(datasets or ()), requested_systems=tuple(systems or ()))


def _number(path: Path, key: str, value) -> float:
    """A pinned nDCG@10 or a tolerance: a finite number in [0, 1] (a pin outside it could never hold, a negative or infinite
    tolerance never or always)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LsrError(f"{path}: {key} must be a number, got {value!r}")
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise LsrError(f"{path}: {key} must be a finite number in [0, 1], got {value!r}")
    return float(value)


def _summary(path: Path, spec, systems: dict[str, System], datasets: list[DatasetEntry]) -> Summary:
    if not isinstance(spec, dict) or set(spec) != {"file", "dataset", "systems"} or not isinstance(spec["systems"], list):
        raise LsrError(f"{path}: summary must be {{file, dataset, systems: [names]}}, got {spec!r}")
    if spec["dataset"] not in {d.name for d in datasets}:
        raise LsrError(f"{path}: summary.dataset {spec['dataset']!r} is not one of the datasets")
    unknown = [s for s in spec["systems"] if s not in systems]
    if unknown:
        raise LsrError(f"{path}: summary.systems: no such system(s) {', '.join(map(str, unknown))}")
    return Summary(Path(resolve_relative(path, str(spec["file"]))), str(spec["dataset"]), tuple(spec["systems"]))


def _system(path: Path, name: str, spec) -> System:
    if not isinstance(spec, dict) or "recipe" not in spec:
        raise LsrError(f"{path}: system {name!r} needs a 'recipe' (an index recipe path relative to {path.parent}, e.g. ../indexing/bm25.yaml)")
    check_plain(name, f"{path}: system", "bm25 or splade-tiny")  # it names the system's run files
    check_keys(path, spec, {"recipe", "label", "requires", "encoder"})
    recipe = Path(resolve_relative(path, str(spec["recipe"])))
    if not recipe.is_file():
        raise LsrError(f"{path}: system {name!r}: recipe {recipe} does not exist (recipe paths are relative to {path.parent})")
    paths = {key: resolve_relative(path, str(spec[key])) if spec.get(key) else None for key in ("requires", "encoder")}
    for key, value in paths.items():
        try:
            value is None or value.format(dataset="")
        except (KeyError, IndexError, ValueError):
            raise LsrError(f"{path}: system {name!r}: {key} {spec[key]!r} may hold {{dataset}} and no other braces") from None
    return System(name, recipe, str(spec.get("label", name)), **paths)


def _dataset(path: Path, name: str, spec, systems: dict[str, System], tolerance: float) -> DatasetEntry:
    if not isinstance(name, str):
        raise LsrError(f"{path}: dataset {name!r}: a dataset name is text; quote it ('{name}')")
    if not isinstance(spec, dict):
        raise LsrError(f"{path}: dataset {name!r} must be a mapping (split, ignore_identical_ids, expected)")
    check_keys(path, spec, {"split", "ignore_identical_ids", "expected"})
    if spec.get("split") is not None:
        check_plain(spec["split"], f"{path}: datasets.{name}.split", "test or dev")  # it names the runs' folder
    check_flag(spec.get("ignore_identical_ids"), f"{path}: datasets.{name}.ignore_identical_ids", optional=True)
    if not isinstance(spec.get("expected") or {}, dict):
        raise LsrError(f"{path}: datasets.{name}.expected must map system names to pinned cells, got {spec['expected']!r}")
    expected = {}
    for system, cell in (spec.get("expected") or {}).items():
        key = f"datasets.{name}.expected.{system}"
        if system not in systems:
            raise LsrError(f"{path}: {key}: no such system (systems: {', '.join(systems)})")
        if not isinstance(cell, dict):
            cell = {"nDCG@10": cell}
        unknown = sorted(set(cell) - {"nDCG@10", "tolerance", "source"})
        if unknown or "nDCG@10" not in cell:
            raise LsrError(f"{path}: {key}: a pinned cell is a number or {{nDCG@10, tolerance, source}}, got {cell!r}")
        expected[system] = Pin(_number(path, f"{key}.nDCG@10", cell["nDCG@10"]),
                               _number(path, f"{key}.tolerance", cell.get("tolerance", tolerance)), str(cell.get("source", "")))
    return DatasetEntry(name, spec.get("split"), spec.get("ignore_identical_ids"), expected)
