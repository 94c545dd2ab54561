"""Training by file and dataset name, as ``lsr train`` and ``lsr adapt`` do: a training recipe of either kind (a sparse encoder
distilled from teachers or a fine-tuned dense bi-encoder), and the adaptation of a model to a corpus."""

from __future__ import annotations

import os
from pathlib import Path

from lsr import config
from lsr.errors import LsrError
from lsr.training.recipe import DenseTrainRecipe, load_training_recipe


def train_recipe(path: str | os.PathLike, out_dir: Path | None = None, output: str | os.PathLike | None = None, overrides: dict | None = None,
                 data_dir: str | None = None, threads: int = 2, progress: bool = True, resume: bool = False,
                 validate_base: bool = False) -> str:
    """Train the recipe at ``path`` (its settings replaced by ``overrides``) into ``output``, else ``<out_dir>/models/<recipe name>``;
    returns one line on the result: steps, minutes and the held-out validation score.

    ``resume`` continues an interrupted sparse run (dense runs are minutes long and refuse it); ``validate_base`` also scores a
    dense recipe's untrained model on the held-out queries.
    """
    recipe, out_dir = load_training_recipe(path, **(overrides or {})), config.out_dir(out_dir)
    output = Path(output) if output else out_dir / "models" / recipe.name
    if isinstance(recipe, DenseTrainRecipe):
        from lsr.training.dense import train_dense

        if resume:
            raise LsrError("--resume: dense training runs in one go (minutes); run it again without --resume")
        summary = train_dense(recipe, output, out_dir=out_dir, data_dir=data_dir, threads=threads, progress=progress,
                              validate_base=validate_base)
        check = summary["validation"]
        return (f"{output}: {summary['steps']} steps in {summary['minutes']} min on {len(summary['train_queries'])} queries; "
                f"{check['what']}: {check['trained']}" + (f" (untrained: {check['base']})" if check["base"] is not None else ""))
    from lsr.training.train import train

    summary = train(recipe, output, out_dir=out_dir, data_dir=data_dir, resume=resume, threads=threads, progress=progress)
    last = summary["validation"][-1]
    return (f"{output}: {summary['steps']} steps in {summary['minutes']} min; validation nDCG@10 {last['val_nDCG@10']:.4f} "
            f"(teachers: {summary['teachers_on_validation']}), {last['avg_doc_terms']:.0f} terms/doc")


def adapt_corpus(dataset: str, recipe_path: str | os.PathLike, overrides: dict | None = None, data_dir: str | None = None,
                 out_dir: Path | None = None, queries: int = 2000, threads: int = 2, progress: bool = True,
                 index_recipe_path: str | os.PathLike | None = None) -> dict:
    """Adapt the model of the training recipe at ``recipe_path`` (its settings replaced by ``overrides``) to ``dataset`` (a name under
    the data root or a folder; only its corpus is read) with at most ``queries`` pseudo-queries, then index the corpus with it, with the
    settings of the index recipe at ``index_recipe_path`` (see :func:`lsr.training.adapt.adapt`); returns the summary."""
    from lsr.data import load_dataset
    from lsr.index.recipe import IndexRecipe
    from lsr.training.adapt import adapt
    from lsr.training.recipe import TrainRecipe

    if queries < 1:
        raise LsrError(f"--queries must be positive, got {queries}")
    return adapt(load_dataset(dataset, data_dir, corpus_only=True), TrainRecipe.load(recipe_path, **(overrides or {})), config.out_dir(out_dir),
                 max_queries=queries, threads=threads, progress=progress,
                 index_recipe=IndexRecipe.load(index_recipe_path) if index_recipe_path else None)
