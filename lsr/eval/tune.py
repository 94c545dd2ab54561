"""``lsr tune-fusion``: choose a hybrid's fusion settings on a training split, never on test.

The sparse and dense lists of every training query are computed once, at the deepest depth of
the grid; each grid point (mode, method, missing policy, depth, dense weight, RRF k) is then
only a fusion, through the same :meth:`HybridSearcher.combine` that searching uses, scored by
nDCG@10. The best point is written back into the hybrid's recipe YAML (other lines and
comments kept). A dense model fine-tuned on the split (``lsr train``, ``student: dense``) limits
tuning to the queries held out from its training. A cross-encoder stage, if configured, is left out of tuning.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import Iterator

from lsr.data import Dataset
from lsr.errors import LsrError
from lsr.eval.evaluate import ensure_index
from lsr.eval.metrics import evaluate
from lsr.fusion import FusionConfig
from lsr.index.recipe import TRAINING_INFO, HybridRecipe, load_recipe

TUNED = ("mode", "method", "missing", "depth", "dense_weight", "rrf_k", "list_weights")
NOTE = "# tuned by lsr tune-fusion"
FORBIDDEN_SPLITS = ("test",)


@dataclass(frozen=True)
class Grid:
    """The values to try for each tuned setting (the metadata's help is that of ``lsr tune-fusion``'s option of the same
    name). No modes, methods or missing policies: the recipe's own (:meth:`for_recipe`)."""

    modes: tuple[str, ...] = field(default=(), metadata={"help": "comma list of fusion,rerank", "default": "the recipe's mode"})
    methods: tuple[str, ...] = field(default=(), metadata={"help": "comma list of rrf,minmax,zscore,raw", "default": "the recipe's method"})
    missing: tuple[str, ...] = field(default=(), metadata={"help": "comma list of min,zero", "default": "the recipe's policy"})
    depths: tuple[int, ...] = field(default=(100, 1000), metadata={"help": "comma list of candidate depths per list"})
    weights: tuple[float, ...] = field(default=tuple(w / 10 for w in range(11)), metadata={
        "help": "comma list of dense weights; several sparse lists: each combination summing to 1", "default": "0,0.1,...,1"})
    rrf_ks: tuple[float, ...] = field(default=(1.0, 5.0, 10.0, 60.0), metadata={"help": "comma list of RRF constants"})
    lists: int = 2  # ranked lists fused: sparse ones + the dense one

    def __post_init__(self) -> None:
        """Every value is checked as the fusion setting it is, before any search, also those no combination uses (RRF
        constants when no method is rrf); an LsrError names the first bad one."""
        for key, values in (("mode", self.modes), ("method", self.methods), ("missing", self.missing), ("depth", self.depths),
                            ("dense_weight", self.weights), ("rrf_k", self.rrf_ks)):
            if not values and key in ("depth", "dense_weight", "rrf_k"):
                raise LsrError(f"fusion grid: no {key} to try")
            for value in values:
                try:
                    FusionConfig(**{key: value})
                except LsrError as error:
                    raise LsrError(f"fusion grid: {error}") from None

    def for_recipe(self, recipe: HybridRecipe) -> "Grid":
        """This grid for ``recipe``: its number of lists, and its own mode, method and missing policy where none are given."""
        fusion = recipe.fusion
        return replace(self, modes=self.modes or (fusion.mode,), methods=self.methods or (fusion.method,),
                       missing=self.missing or (fusion.missing,), lists=len(recipe.sparse_recipes) + 1)

    def weightings(self) -> list[tuple[float, ...] | float]:
        """Two lists: the dense weights. More: every weighting of the lists whose weights are all drawn
        from ``weights`` and sum to 1 (0, 0.1, ..., 1: 66 weightings of three lists)."""
        if self.lists == 2:
            return list(self.weights)
        return [w for w in product(self.weights, repeat=self.lists) if abs(sum(w) - 1) < 1e-9]

    def configs(self, base: FusionConfig) -> Iterator[FusionConfig]:
        """Every distinct combination, as fusion configs: RRF k varies only for ``rrf``; the missing
        policy only for the other methods in ``fusion`` mode or with several sparse lists (in
        ``rerank`` mode with one sparse list no document is missing)."""
        for mode, method, depth, weight in product(self.modes, self.methods, self.depths, self.weightings()):
            if method == "rrf":
                variants = [{"rrf_k": value} for value in self.rrf_ks]
            else:
                variants = [{"missing": value} for value in (self.missing if mode == "fusion" or self.lists > 2 else self.missing[:1])]
            weights = {"dense_weight": weight, "list_weights": None} if self.lists == 2 else {"list_weights": tuple(weight)}
            for variant in variants:
                yield replace(base, mode=mode, method=method, depth=depth, cross_encoder=None, **weights, **variant)


def relevant(config: FusionConfig) -> dict:
    """The tuned settings of ``config``, None for those that do not matter to it."""
    values = {key: getattr(config, key) for key in TUNED}
    several = config.list_weights is not None and len(config.list_weights) > 2
    if config.method != "rrf":
        values["rrf_k"] = None
    if config.method == "rrf" or (config.mode == "rerank" and not several):
        values["missing"] = None
    if several:
        values["dense_weight"] = None  # the last of list_weights
    return values


def heldout_queries(model: str, dataset: Dataset, split: str) -> list[str] | None:
    """The held-out query ids of a dense model that ``lsr train`` fine-tuned on this dataset's ``split``
    (read from its ``lsr_training.json``), or None when the model was not trained on that split."""
    path = Path(model) / TRAINING_INFO
    if not model or not path.is_file():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    if info.get("dataset") != dataset.name or info.get("corpus_sha256") != dataset.corpus_sha256 or info.get("split") != split:
        return None
    return list(info["validation_queries"])


def tuning_queries(recipe: HybridRecipe, dataset: Dataset, split: str) -> tuple[dict[str, str], str]:
    """The ``split`` queries to tune ``recipe`` on, and a note saying which. When its dense side was
    fine-tuned on this split, only the queries held out from that training: weights chosen on queries
    the model learned would trust the dense side too much."""
    queries = dataset.queries(split)
    note = f"{dataset.name} {split}"
    for model in dict.fromkeys([recipe.dense.query_encoder, recipe.dense.encoder]):
        held = heldout_queries(model, dataset, split)
        if held is not None:
            queries = {q: text for q, text in queries.items() if q in set(held)}
            note = f"{dataset.name} {split}, the {len(queries)} queries held out from training {model}"
    if not queries:
        raise LsrError(f"no {split} queries left to tune on (all were used to train the dense model)")
    return queries, note


def tune_fusion(recipe: HybridRecipe, dataset: Dataset, split: str, grid: Grid, out_dir: Path, threads: int = 2,
                progress: bool = True, ignore_identical_ids: bool = True) -> list[dict]:
    """Score every grid point on ``split`` (only its held-out queries when the dense model was trained on
    it, see :func:`tuning_queries`); returns rows (settings + nDCG@10, R@100), best first."""
    from lsr.search.hybrid import HybridSearcher

    if split in FORBIDDEN_SPLITS:
        raise LsrError(f"tune-fusion never tunes on the {split!r} split (that would report a number tuned on test); "
                       f"use a training split ({', '.join(s for s in dataset.splits() if s not in FORBIDDEN_SPLITS) or 'none here'})")
    queries, _ = tuning_queries(recipe, dataset, split)
    qrels = {q: judged for q, judged in dataset.qrels(split).items() if q in queries}  # metrics average over these
    texts = list(queries.values())
    index_dir = ensure_index(recipe, dataset, out_dir, threads, progress)
    depth = max(grid.depths)
    with HybridSearcher.from_manifest(index_dir) as searcher:
        if len(searcher.sparse_searchers) + 1 != grid.lists:
            raise LsrError(f"the grid fuses {grid.lists} lists, the hybrid {recipe.name!r} has {len(searcher.sparse_searchers) + 1}")
        sparse = searcher.sparse_lists(texts, depth, threads)
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
    if not isinstance(written, HybridRecipe) or any(getattr(written.fusion, k) != (tuple(v) if isinstance(v, list) else v)
                                                    for k, v in values.items()):
        raise LsrError(f"{path}: the tuned settings did not read back as written; check the file")


def adopt_best(recipe: HybridRecipe, rows: list[dict], where: str, dataset: Dataset, out_dir: Path, threads: int = 2) -> None:
    """Write the best row of a tuning grid (``rows``, best first, tuned on ``where``) into the recipe's file, and
    rewrite its hybrid index's manifest to follow it."""
    best = rows[0]
    write_tuned(recipe.path, best, f"on {where}: nDCG@10 {best['nDCG@10']} over {len(rows)} settings")
    ensure_index(load_recipe(recipe.path), dataset, out_dir, threads, progress=False)


def _scalar(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, str) and not re.fullmatch(r"[A-Za-z][\w-]*", value) else str(value)
