"""``lsr tune-fusion`` on a recipe file: its grid (the values given, else the recipe's own settings), the scored grid, and the
best settings written back into the file (see :mod:`lsr.eval.tune` for the tuning itself)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from lsr import config
from lsr.data import load_dataset
from lsr.errors import LsrError
from lsr.eval.evaluate import markdown_table
from lsr.eval.tune import Grid, adopt_best, tune_fusion, tuning_queries
from lsr.index.recipe import load_recipe


def tune_recipe(path: str | os.PathLike, dataset: str, data_dir: str | None = None, split: str = "train", out_dir: Path | None = None,
                grid: Grid = Grid(), threads: int = 2, progress: bool = True, write: bool = True) -> Iterator[str]:
    """Tune the fusion of the hybrid recipe at ``path`` on ``split`` of ``dataset`` (a name under the data root or a folder) over
    ``grid`` (:meth:`Grid.for_recipe`: the recipe's own mode, method and missing policy where it gives none).

    Yields the report's lines as they are known: the grid as a markdown table (best first), the best settings, then, with
    ``write``, where they were written (see :func:`adopt_best`).
    """
    recipe = load_recipe(path)
    if recipe.kind != "hybrid":
        raise LsrError(f"{path}: tune-fusion needs a hybrid recipe (kind: hybrid), this one is {recipe.kind}")
    loaded, grid, out_dir = load_dataset(dataset, data_dir), grid.for_recipe(recipe), config.out_dir(out_dir)
    _, where = tuning_queries(recipe, loaded, split)
    rows = tune_fusion(recipe, loaded, split, grid, out_dir, threads, progress)
    best = rows[0]
    yield markdown_table(rows, f"{recipe.name}: fusion grid on {where} ({len(rows)} settings, best first)")
    chosen = ", ".join(f"{k}={v}" for k, v in best.items() if k not in ("nDCG@10", "R@100") and v is not None)
    yield f"best on {split}: {chosen} (nDCG@10 {best['nDCG@10']})"
    if write:
        adopt_best(recipe, rows, where, loaded, out_dir, threads)
        yield f"written into {recipe.path}"
