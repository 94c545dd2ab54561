"""``lsr tune-fusion``: choose a hybrid's fusion settings on a training split, never on test.

The sparse and dense lists of every training query are computed once, at the deepest depth of
the grid; each grid point (mode, method, missing policy, depth, dense weight, RRF k) is then
only a fusion, through the same :meth:`HybridSearcher.combine` that searching uses, scored by
nDCG@10. The best point is written back into the hybrid's recipe YAML (other lines and
comments kept). A cross-encoder stage, if configured, is left out of tuning.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from itertools import product
from pathlib import Path
from typing import Iterator

from lsr.errors import LsrError
from lsr.eval.beir import Dataset
from lsr.eval.evaluate import ensure_index
from lsr.eval.metrics import evaluate
from lsr.index.recipe import HybridRecipe, load_recipe
from lsr.search.fusion import FusionConfig

TUNED = ("mode", "method", "missing", "depth", "dense_weight", "rrf_k")
NOTE = "# tuned by lsr tune-fusion"
FORBIDDEN_SPLITS = ("test",)


@dataclass(frozen=True)
class Grid:
    """The values to try for each tuned setting."""

    modes: tuple[str, ...]
    methods: tuple[str, ...]
    missing: tuple[str, ...]
    depths: tuple[int, ...]
    weights: tuple[float, ...]
    rrf_ks: tuple[float, ...]

    def configs(self, base: FusionConfig) -> Iterator[FusionConfig]:
        """Every distinct combination, as fusion configs: RRF k varies only for ``rrf``; the missing
        policy only for the other methods in ``fusion`` mode (in ``rerank`` mode no document is missing)."""
        for mode, method, depth, weight in product(self.modes, self.methods, self.depths, self.weights):
            if method == "rrf":
                variants = [{"rrf_k": value} for value in self.rrf_ks]
            else:
                variants = [{"missing": value} for value in (self.missing if mode == "fusion" else self.missing[:1])]
            for variant in variants:
                yield replace(base, mode=mode, method=method, depth=depth, dense_weight=weight, cross_encoder=None, **variant)


def relevant(config: FusionConfig) -> dict:
    """The tuned settings of ``config``, None for those that do not matter to it."""
    values = {key: getattr(config, key) for key in TUNED}
    if config.method != "rrf":
        values["rrf_k"] = None
    if config.method == "rrf" or config.mode == "rerank":
        values["missing"] = None
    return values


def tune_fusion(recipe: HybridRecipe, dataset: Dataset, split: str, grid: Grid, out_dir: Path, threads: int = 2,
                progress: bool = True, ignore_identical_ids: bool = True) -> list[dict]:
    """Score every grid point on ``split``; returns rows (settings + nDCG@10, R@100), best first."""
    from lsr.search.hybrid import HybridSearcher

    if split in FORBIDDEN_SPLITS:
        raise LsrError(f"tune-fusion never tunes on the {split!r} split (that would report a number tuned on test); "
                       f"use a training split ({', '.join(s for s in dataset.splits() if s not in FORBIDDEN_SPLITS) or 'none here'})")
    qrels = dataset.qrels(split)
    queries = dataset.queries(split)
    texts = list(queries.values())
    index_dir = ensure_index(recipe, dataset, out_dir, threads, progress)
    depth = max(grid.depths)
    with HybridSearcher.from_manifest(index_dir) as searcher:
        sparse = searcher.sparse.batch_search(texts, depth, threads)
        vectors = searcher.dense.encode(texts)
        dense = {mode: searcher.with_config(mode=mode).dense_lists(vectors, sparse, depth, threads) for mode in grid.modes}
        rows = []
        for config in grid.configs(searcher.config):
            view = searcher.with_config(**asdict(config))
            run = {qid: dict(view.combine(text, s, d, k=100)) for (qid, text), s, d in zip(queries.items(), sparse, dense[config.mode])}
            scores = evaluate(run, qrels, ignore_identical_ids=ignore_identical_ids)
            rows.append({**relevant(config), "nDCG@10": round(scores["nDCG@10"], 4), "R@100": round(scores["R@100"], 4)})
    return sorted(rows, key=lambda row: -row["nDCG@10"])  # stable: ties keep grid order


def write_tuned(path: Path, row: dict, note: str) -> None:
    """Write a grid row's settings into the recipe YAML at ``path``, keeping its other lines; checks the result loads."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith(NOTE)]
    values = {key: row[key] for key in TUNED if row[key] is not None}
    for key, value in values.items():
        text = f"{key}: {_scalar(value)}"
        found = next((i for i, line in enumerate(lines) if re.match(rf"{key}\s*:", line)), None)
        if found is None:
            lines.append(text)
        else:
            comment = re.search(r"\s+#.*$", lines[found])
            lines[found] = text + (comment.group(0) if comment else "")
    lines.append(f"{NOTE} {note}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written = load_recipe(path)
    if not isinstance(written, HybridRecipe) or any(getattr(written.fusion, k) != v for k, v in values.items()):
        raise LsrError(f"{path}: the tuned settings did not read back as written; check the file")


def _scalar(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, str) and not re.fullmatch(r"[A-Za-z][\w-]*", value) else str(value)
