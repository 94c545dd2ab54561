"""``lsr ablate``: train the variants of a recipe with one budget, index each in Lucene, evaluate on test.

An ablation recipe (``training/ablation.yaml``) names a base training recipe, settings applied to
every variant, and the variants as overrides of the base::

    base: inference-free-ensemble.yaml   # relative to this file's folder
    set: {epochs: 2}
    variants:
      default: {}
      plain FLOPS: {regularizer: flops}

Each variant is trained on the train split (model selection only ever sees held-out train
queries), indexed through the same Lucene path as any model, and searched on the test split.
A model or index already built from the same settings is reused, so an interrupted ablation
continues where it stopped. Reference rows put the variants in context: BM25, the zero-shot
inference-free model, and each teacher (and their ensemble) reranking BM25's top candidates of the
test queries — the ceiling that distillation from those teachers aims at.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lsr import config
from lsr.atomic import atomic_file
from lsr.data import Dataset, load_dataset
from lsr.errors import LsrError
from lsr.eval.metrics import METRICS, evaluate
from lsr.markdown import markdown_table
from lsr.recipe_files import check_keys, read_recipe, resolve_relative
from lsr.training.recipe import TrainRecipe, resolve_paths
from lsr.training.train import split_queries

COLUMNS = ("variant", *METRICS, "avg_doc_terms", "avg_query_terms", "flops", "index_mb", "train_min", "val_nDCG@10",
           "val_retrieval_nDCG@10")


@dataclass(frozen=True)
class AblationRecipe:
    """A base training recipe, overrides for every variant (``set``) and the variants themselves."""

    path: Path
    base: Path
    common: dict = field(default_factory=dict)
    variants: dict[str, dict] = field(default_factory=dict)
    references: bool = True

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AblationRecipe":
        """Read an ablation YAML; the base recipe and every variant are checked before anything runs.

        ``base`` and any path among the settings (a ``backbone`` or teacher model folder) are relative to this file's folder."""
        path = Path(path)
        data = read_recipe(path)
        check_keys(path, data, {"base", "set", "variants", "references"})
        if "base" not in data or not data.get("variants"):
            raise LsrError(f"{path}: an ablation needs `base` (a training recipe) and at least one entry under `variants`")
        base = Path(resolve_relative(path, str(data["base"])))
        recipe = cls(path, base, resolve_paths(path, dict(data.get("set") or {})),
                     {str(k): resolve_paths(path, dict(v or {})) for k, v in data["variants"].items()}, bool(data.get("references", True)))
        for name in recipe.variants:
            recipe.training_recipe(name)
        return recipe

    def training_recipe(self, variant: str, **overrides) -> TrainRecipe:
        """The base recipe with the common settings, the variant's settings and ``overrides`` applied."""
        if variant not in self.variants:
            raise LsrError(f"{self.path}: no variant {variant!r}; the variants are {', '.join(self.variants)}")
        recipe = TrainRecipe.load(self.base, **{**self.common, **self.variants[variant], **overrides})
        return replace(recipe, name=f"{recipe.name}-ablation-{slug(variant)}")


def slug(text: str) -> str:
    """A file-name-safe form of a variant's name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run_ablation(ablation: AblationRecipe, split: str = "test", only: list[str] | None = None, overrides: dict | None = None,
                 out_dir: Path = Path("out"), data_dir: str | None = None, threads: int = 2, progress: bool = True) -> list[dict]:
    """Train (or reuse), index and evaluate each variant; returns the table rows (references first)."""
    from lsr.training.train import train

    names = only or list(ablation.variants)
    recipes = {name: ablation.training_recipe(name, **(overrides or {})) for name in names}
    first = next(iter(recipes.values()))
    dataset = load_dataset(first.dataset, data_dir)
    rows = reference_rows(first, dataset, split, out_dir, threads, progress) if ablation.references else []
    for name, recipe in recipes.items():
        model_dir = out_dir / "models" / "ablation" / slug(name)
        summary = _trained(model_dir, recipe)
        if summary is None:
            summary = train(recipe, model_dir, out_dir=out_dir, data_dir=data_dir, threads=threads, progress=progress)
        rows.append({"variant": name, **evaluate_trained(model_dir, recipe, dataset, split, out_dir, threads, progress),
                     "train_min": summary["minutes"], "val_nDCG@10": round(summary["validation"][-1]["val_nDCG@10"], 4)})
    return rows


def _trained(model_dir: Path, recipe: TrainRecipe) -> dict | None:
    """The training summary of a finished model trained from exactly ``recipe``, else None."""
    log = model_dir / "training_log.json"
    if not log.is_file():
        return None
    summary = json.loads(log.read_text(encoding="utf-8"))
    return summary if summary.get("recipe") == json.loads(json.dumps(asdict(recipe))) else None


def evaluate_trained(model_dir: Path, recipe: TrainRecipe, dataset: Dataset, split: str, out_dir: Path,
                     threads: int, progress: bool) -> dict:
    """Index a trained model through the Lucene impact path, search ``split`` and the held-out train queries, measure its sparsity."""
    from lsr.eval.efficiency import sparse_stats
    from lsr.eval.evaluate import ensure_index, index_facts, run_system
    from lsr.index.manifest import read_manifest
    from lsr.index.recipe import IndexRecipe

    query_encoder = "table" if recipe.student == "inference-free" else "model"
    index = IndexRecipe(name=f"ablation-{model_dir.name}", encoder=str(model_dir), query_encoder=query_encoder,
                        doc_max_length=recipe.doc_max_length, query_max_length=recipe.query_max_length)
    index_dir = ensure_index(index, dataset, out_dir, threads, progress)
    queries = dataset.queries(split)
    run, facts = run_system(index_dir, queries, 1000, threads, progress, inspect=lambda s: sparse_stats(s, list(queries.values())))
    scores = evaluate(run, dataset.qrels(split))
    # the same index searched with the train queries that training held out (what recipes may be chosen on)
    train_queries, train_qrels = dataset.queries(recipe.split), dataset.qrels(recipe.split)
    _, val_ids = split_queries(list(train_qrels), recipe.validation_fraction, recipe.seed)
    val_run, _ = run_system(index_dir, {q: train_queries[q] for q in val_ids}, 1000, threads, progress)
    held_out = evaluate(val_run, {q: train_qrels[q] for q in val_ids})["nDCG@10"]
    return {**{m: round(scores[m], 4) for m in METRICS}, **{c: facts[c] for c in ("avg_doc_terms", "avg_query_terms", "flops")},
            "index_mb": index_facts(index_dir, read_manifest(index_dir))["index_mb"], "val_retrieval_nDCG@10": round(held_out, 4)}


def reference_rows(recipe: TrainRecipe, dataset: Dataset, split: str, out_dir: Path, threads: int, progress: bool) -> list[dict]:
    """The zero-shot student, then each teacher and the ensemble reranking BM25's top-k of ``split``.

    The teachers score the same candidate pool as in training (cached under ``out/teachers``); the
    judged positives that pool adds are left out here, so the rows are honest rerankers of BM25.
    With the bm25 teacher the row is BM25 itself.
    """
    import numpy as np

    from lsr.eval.evaluate import ensure_index
    from lsr.index.recipe import IndexRecipe
    from lsr.search import Searcher
    from lsr.training.ensemble import ensemble_targets
    from lsr.training.train import teacher_targets

    zero_shot = out_dir / "models" / "ablation" / f"zero-shot-{slug(recipe.backbone)}"  # one per backbone: the label names it
    if not (zero_shot / "modules.json").is_file():
        _save_zero_shot(recipe, dataset, zero_shot)
    rows = [{"variant": f"reference: {recipe.backbone} zero-shot ({recipe.student})",
             **evaluate_trained(zero_shot, recipe, dataset, split, out_dir, threads, progress)}]
    candidates, scores, _ = teacher_targets(replace(recipe, split=split), dataset, out_dir, threads, progress)
    queries = dataset.queries(split)
    with Searcher.open(ensure_index(IndexRecipe(name="bm25"), dataset, out_dir, threads, progress)) as bm25:
        retrieved = bm25.batch_search(list(queries.values()), k=recipe.candidates_k, threads=threads)
    pool = {q: {h.docid for h in hits} for q, hits in zip(queries, retrieved)}
    keep = {q: [i for i, d in enumerate(candidates.lists[q]) if d in pool[q]] for q in candidates.lists}
    keep = {q: rows_kept for q, rows_kept in keep.items() if rows_kept}  # a query BM25 finds nothing for scores 0
    tables = {name: {q: table[q][kept] for q, kept in keep.items()} for name, table in scores.items()}
    tables["ensemble"] = {q: ensemble_targets({t: s[q][None, :] for t, s in tables.items()}, recipe.teacher_weights,
                                              recipe.normalisation, recipe.score_scale)[0] for q in keep}
    qrels = dataset.qrels(split)
    for name, table in tables.items():
        run = {q: dict(zip(np.asarray(candidates.lists[q])[keep[q]].tolist(), values.tolist())) for q, values in table.items()}
        result = evaluate(run, qrels)
        label = f"ensemble of {len(scores)} teachers" if name == "ensemble" else f"teacher {name}"
        rows.append({"variant": f"reference: {label}, reranking BM25 top {recipe.candidates_k}", **{m: round(result[m], 4) for m in METRICS}})
    return rows


def _save_zero_shot(recipe: TrainRecipe, dataset: Dataset, output: Path) -> None:
    """The untrained student (backbone + corpus-IDF query table), saved like a trained model."""
    from lsr.encoders.names import is_model_folder
    from lsr.index.manifest import building
    from lsr.training.train import build_student, corpus_idf_for

    model = build_student(recipe, corpus_idf_for(recipe, dataset, progress=False))
    with building(output, is_model_folder, "a model folder") as tmp:
        model.save(str(tmp))


def plot_learning_curves(rows: list[dict], out_dir: Path, path: Path) -> None:
    """Every trained variant's training loss and validation nDCG@10 against steps, in one PNG beside the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4))
    for i, row in enumerate(r for r in rows if not r["variant"].startswith("reference")):
        summary = json.loads((out_dir / "models" / "ablation" / slug(row["variant"]) / "training_log.json").read_text(encoding="utf-8"))
        log = [e for e in summary["log"] if "loss" in e]
        axes[0].plot([e["step"] for e in log], [e["loss"] for e in log], color=f"C{i}", label=row["variant"])
        axes[1].plot([v["step"] for v in summary["validation"]], [v["val_nDCG@10"] for v in summary["validation"]], marker="o", color=f"C{i}")
    axes[0].set(title="training loss (KL to the ensemble + regulariser)", xlabel="step")
    axes[0].legend(fontsize=7)
    axes[1].set(title="held-out validation nDCG@10 (reranking)", xlabel="step")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(rows: list[dict], title: str) -> str:
    """The ablation table as markdown (empty cells where a column does not apply)."""
    return "\n".join([f"# {title}", "", *markdown_table(COLUMNS, ([row.get(c) for c in COLUMNS] for row in rows))]) + "\n"


def ablate(path: str | os.PathLike, split: str = "test", only: list[str] | None = None, overrides: dict | None = None,
           out_dir: Path | None = None, output: str | os.PathLike | None = None, data_dir: str | None = None, threads: int = 2,
           progress: bool = True) -> str:
    """``lsr ablate``: run the ablation recipe at ``path`` (see :func:`run_ablation`) and write its results at ``output``, else at
    ``<out_dir>/results/ablation-<recipe file name>`` (see :func:`write_results`); returns the table."""
    ablation, out_dir = AblationRecipe.load(path), config.out_dir(out_dir)
    rows = run_ablation(ablation, split, only, overrides, out_dir, data_dir, threads, progress)
    stem = Path(output) if output else out_dir / "results" / f"ablation-{ablation.path.stem}"
    return write_results(rows, stem, f"Ablation {ablation.path} on the {split} split (overrides: {overrides or 'none'})", out_dir)


def write_results(rows: list[dict], stem: Path, title: str, out_dir: Path) -> str:
    """Write the table (``<stem>.md``), the rows (``<stem>.json``) and the learning curves (``<stem>.png``); returns the table."""
    table = markdown(rows, title)
    for suffix, text in ((".md", table), (".json", json.dumps(rows, indent=2))):
        with atomic_file(stem.with_name(stem.name + suffix)) as tmp:
            tmp.write_text(text, encoding="utf-8")
    with atomic_file(stem.with_name(stem.name + ".png")) as tmp:
        plot_learning_curves(rows, out_dir, tmp)
    return table
