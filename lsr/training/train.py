"""``lsr train``: distil a teacher ensemble into an inference-free (or SPLADE) student.

The pipeline: BM25 candidates for the train queries -> cached teacher scores -> per-query
ensemble targets -> rows (query, positive, sampled negatives, targets) -> sentence-transformers'
``SparseEncoderTrainer`` with ``SpladeLoss`` (KL / MarginMSE / InfoNCE + FLOPS regularisers,
quadratic warm-up) -> a SparseEncoder directory that loads with plain ``SparseEncoder(path)``.
A share of the train queries is held out (test is never read): during training, validation reranks
their candidates; at the end the saved model retrieves over the whole corpus for them
(``validation_retrieval`` in training_log.json, the number to choose recipes on).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np

from lsr.atomic import atomic_file
from lsr.data import Dataset, load_dataset
from lsr.encoders.names import is_model_folder
from lsr.errors import LsrError
from lsr.eval.metrics import evaluate, per_query
from lsr.index.manifest import building, check_replaceable
from lsr.training.ensemble import ensemble_targets
from lsr.training.recipe import TrainRecipe
from lsr.training.teachers import Candidates

log = logging.getLogger(__name__)


def split_queries(query_ids: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic (train, validation) split of query ids."""
    order = np.random.default_rng(seed).permutation(sorted(query_ids))
    cut = max(1, int(round(len(order) * fraction)))
    return sorted(order[cut:].tolist()), sorted(order[:cut].tolist())


def candidates_folder(dataset: Dataset, split: str, k: int, out_dir: Path) -> Path:
    """Where the BM25 candidates (and teacher scores) of a split are cached."""
    return out_dir / "teachers" / dataset.name / f"{split}-bm25-top{k}"


def bm25_candidates(dataset: Dataset, split: str, k: int, out_dir: Path, threads: int = 2, progress: bool = True) -> Candidates:
    """Judged positives + BM25 top ``k`` of every ``split`` query, from the cache or mined (and cached) now."""
    from lsr.eval.evaluate import ensure_index
    from lsr.index.recipe import IndexRecipe
    from lsr.search import Searcher
    from lsr.training.candidates import load_candidates, mine_candidates, save_candidates

    folder = candidates_folder(dataset, split, k, out_dir)
    candidates = load_candidates(folder, dataset)
    if candidates is None:
        with Searcher.open(ensure_index(IndexRecipe(name="bm25"), dataset, out_dir, threads, progress)) as searcher:
            candidates = mine_candidates(dataset, split, searcher, k=k, threads=threads)
        save_candidates(candidates, folder, dataset)
    return candidates


def start_run(recipe, data_dir: str | None, threads: int) -> tuple[Dataset, dict]:
    """Seed every generator, set torch's threads, and load the recipe's dataset and its split's qrels."""
    import torch
    from transformers import set_seed

    set_seed(recipe.seed)
    torch.set_num_threads(max(1, threads))
    dataset = load_dataset(recipe.dataset, data_dir)
    return dataset, dataset.qrels(recipe.split)


def silenced(make_trainer, progress: bool):
    """The trainer that ``make_trainer()`` builds, quiet when ``progress`` is off: without the Hugging Face Trainer's
    PrinterCallback (with its progress bars disabled the Trainer prints every logged loss dict on stdout), and without
    the "Computing widget examples" bar that sentence-transformers' model card callback draws while the trainer is
    built, whatever ``disable_tqdm`` says. ``--quiet`` promises neither."""
    from sentence_transformers.base import model_card
    from transformers import PrinterCallback

    if progress:
        return make_trainer()
    bar = model_card.tqdm
    model_card.tqdm = partial(bar, disable=True)
    try:
        trainer = make_trainer()
    finally:
        model_card.tqdm = bar
    trainer.remove_callback(PrinterCallback)
    return trainer


def teacher_targets(recipe: TrainRecipe, dataset: Dataset, out_dir: Path, threads: int = 2,
                    progress: bool = True) -> tuple[Candidates, dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """(candidates, {teacher: {query: scores}}, {query: ensemble targets}) for the recipe's split."""
    from lsr.eval.evaluate import ensure_index
    from lsr.index.recipe import IndexRecipe
    from lsr.training.candidates import ScoreCache
    from lsr.training.teachers import load_teacher

    folder = candidates_folder(dataset, recipe.split, recipe.candidates_k, out_dir)

    def bm25_index() -> Path:
        return ensure_index(IndexRecipe(name="bm25"), dataset, out_dir, threads, progress)

    candidates = bm25_candidates(dataset, recipe.split, recipe.candidates_k, out_dir, threads, progress)
    cache = ScoreCache(folder, candidates, source=f"positives + bm25 top {recipe.candidates_k}")
    scores = {
        spec: cache.scores(spec, lambda spec=spec: load_teacher(f"bm25:{bm25_index()}" if spec == "bm25" else spec, progress=progress),
                           progress=progress)
        for spec in recipe.teachers
    }
    targets = {
        q: ensemble_targets({t: s[q][None, :] for t, s in scores.items()}, recipe.teacher_weights, recipe.normalisation, recipe.score_scale)[0]
        for q in candidates.lists
    }
    return candidates, scores, targets


def corpus_idf_for(recipe: TrainRecipe, dataset: Dataset, progress: bool = True) -> dict[str, float]:
    """The IDF of ``dataset``'s corpus over the backbone's WordPiece tokens (the inference-free query table)."""
    from lsr.encoders.idf import corpus_idf
    from lsr.encoders.table import model_tokenizer

    return corpus_idf((d.contents for d in dataset.corpus()), model_tokenizer(recipe.backbone), progress=progress)


def build_student(recipe: TrainRecipe, idf: dict[str, float]):
    """The student SparseEncoder: the backbone with SPLADE pooling, plus the IDF query table if inference-free."""
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    from lsr.encoders.sparse import inference_free_encoder, load_sparse_encoder

    model = load_sparse_encoder(recipe.backbone, document_length=recipe.doc_max_length, query_length=recipe.query_max_length)
    for module in model.modules():
        if isinstance(module, SpladePooling):
            module.activation_function = recipe.activation
    if recipe.student == "inference-free":
        model = inference_free_encoder(model, idf, frozen=recipe.query_weights == "idf")
    return model


def training_rows(recipe: TrainRecipe, candidates: Candidates, targets: dict[str, np.ndarray], qrels: dict, query_ids: list[str],
                  priors: dict[str, np.ndarray] | None = None):
    """A datasets.Dataset of (query, doc_0 = a positive, doc_1..n = sampled negatives[, label]) rows.

    ``priors`` (the BM25 scores of each query's candidates): appended to each row's label, for
    :class:`~lsr.training.losses.LexicalPriorKLDivLoss`.
    """
    from datasets import Dataset as HFDataset

    rng = np.random.default_rng(recipe.seed)
    columns: dict[str, list] = {"query": [], **{f"doc_{i}": [] for i in range(recipe.negatives + 1)}, "label": []}
    for _ in range(max(1, math.ceil(recipe.rows_per_query * recipe.epochs))):
        for q in rng.permutation(query_ids):
            docs = candidates.lists[q]
            positives = [i for i, d in enumerate(docs) if qrels[q].get(d, 0) > 0]
            negatives = [i for i, d in enumerate(docs) if qrels[q].get(d, 0) <= 0]
            if not positives or len(negatives) < recipe.negatives:
                continue
            chosen = [int(rng.choice(positives)), *rng.choice(negatives, size=recipe.negatives, replace=False).tolist()]
            columns["query"].append(candidates.queries[q])
            for column, index in enumerate(chosen):
                columns[f"doc_{column}"].append(candidates.documents[docs[index]])
            row = targets[q][chosen]
            if priors is not None:
                row = np.concatenate([row, priors[q][chosen]])
            columns["label"].append((row[0] - row[1:]).tolist() if recipe.loss == "margin_mse" else row.tolist())
    if recipe.loss == "infonce":
        del columns["label"]
    if not columns["query"]:
        raise LsrError("no training rows: no query has a judged positive and enough negative candidates")
    return HFDataset.from_dict(columns)


def rerank_scores(model, candidates: Candidates, query_ids: list[str], priors: dict[str, np.ndarray] | None = None,
                  lexical_weight: float = 0.0) -> tuple[dict, dict]:
    """The student's run over the candidates of ``query_ids`` (plus ``lexical_weight`` x ``priors``, its BM25
    channel) and its document sparsity stats."""
    from lsr.encoders.sparse import encode

    doc_ids = sorted({d for q in query_ids for d in candidates.lists[q]})
    docs = encode(model, [candidates.documents[d] for d in doc_ids], task="document")
    queries = encode(model, [candidates.queries[q] for q in query_ids], task="query")
    row = {d: i for i, d in enumerate(doc_ids)}
    run = {}
    for i, q in enumerate(query_ids):
        chosen = [row[d] for d in candidates.lists[q]]
        scores = (docs[chosen] @ queries[i].T).toarray().ravel()
        if priors is not None:
            scores = scores + lexical_weight * priors[q]
        run[q] = dict(zip(candidates.lists[q], scores.tolist()))
    nnz = np.diff(docs.indptr)
    flops = float(np.sum(np.asarray((docs != 0).mean(axis=0)).ravel() * np.asarray((queries != 0).mean(axis=0)).ravel()))
    return run, {"avg_doc_terms": float(nnz.mean()), "flops": flops}


def train(recipe: TrainRecipe, output: str | Path, out_dir: Path = Path("out"), data_dir: str | None = None,
          resume: bool = False, threads: int = 2, progress: bool = True) -> dict:
    """Run ``recipe``; writes the model, idf.json, recipe, log and curve into ``output``. Returns the summary."""
    import torch
    from sentence_transformers.sparse_encoder import SparseEncoderTrainer, SparseEncoderTrainingArguments
    from sentence_transformers.sparse_encoder.callbacks.splade_callbacks import SpladeRegularizerWeightSchedulerCallback
    from transformers import TrainerCallback

    from lsr.encoders.sparse import query_table, splade_parts
    from lsr.encoders.table import write_weights
    from lsr.eval.model_eval import evaluate_model
    from lsr.training.fast_pooling import FastSpladeTraining

    started = time.perf_counter()
    output = Path(output)
    check_replaceable(output, is_model_folder, "a model folder")  # before any work: building() would refuse it only once trained
    dataset, qrels = start_run(recipe, data_dir, threads)
    checkpoints = output.with_name(output.name + ".checkpoints")
    settings = {**asdict(recipe), "corpus_sha256": dataset.corpus_sha256}
    resumed = resumed_progress(checkpoints, settings) if resume else {}  # before any work: a run with other settings is refused
    candidates, teacher_scores, targets = teacher_targets(recipe, dataset, out_dir, threads, progress)
    train_ids, val_ids = split_queries(list(candidates.lists), recipe.validation_fraction, recipe.seed)

    idf = corpus_idf_for(recipe, dataset, progress)
    model = build_student(recipe, idf)
    priors = teacher_scores["bm25"] if recipe.lexical_weight else None
    rows = training_rows(recipe, candidates, targets, qrels, train_ids, priors)
    loss = _loss(recipe, model, idf)

    progress_file = checkpoints / PROGRESS
    history: list[dict] = resumed.get("history", [])
    started -= resumed.get("seconds", 0.0)
    val_qrels = {q: qrels[q] for q in val_ids}

    # BERT-style SPLADE students pool through MaxLogits while training (same numbers, ~3x faster);
    # validation runs on the plain model
    fast = FastSpladeTraining(model) if splade_parts(model) else None

    best = BestWeights(checkpoints / BEST, resumed=bool(resumed), alpha=recipe.selection_alpha) if recipe.patience else None

    def validate(step: int) -> None:
        with fast.paused() if fast else nullcontext(), document_length(model, recipe.doc_max_length):
            model.eval()
            run, sparsity = rerank_scores(model, candidates, val_ids, priors, recipe.lexical_weight)
            scores = per_query(run, val_qrels)["nDCG@10"]
            history[:] = [h for h in history if h["step"] < step] + [{"step": step, "val_nDCG@10": float(np.mean(list(scores.values()))), **sparsity}]
            if best:
                best.offer(model, step, scores)
            model.train()
        with atomic_file(progress_file) as tmp:
            tmp.write_text(json.dumps({"history": history, "seconds": time.perf_counter() - started, "settings": settings}), encoding="utf-8")

    class Validation(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % recipe.eval_every == 0:
                validate(state.global_step)
                if best and sum(h["step"] > best.step for h in history) >= recipe.patience:
                    log.info("validation has not beaten step %d's %.4f for %d validations: training stops at step %d",
                             best.step, best.score, recipe.patience, state.global_step)
                    control.should_training_stop = True

    args = SparseEncoderTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=1, max_steps=recipe.max_steps or -1, per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate, seed=recipe.seed, data_seed=recipe.seed, logging_steps=max(1, min(10, recipe.eval_every)),
        save_strategy="steps", save_steps=recipe.eval_every, save_total_limit=2, report_to="none",
        disable_tqdm=not progress, use_cpu=not torch.cuda.is_available(),
        router_mapping=({"query": "query", **{f"doc_{i}": "document" for i in range(recipe.negatives + 1)}}
                        if recipe.student == "inference-free" else {}),
    )
    scheduler = SpladeRegularizerWeightSchedulerCallback(loss, scheduler_type="quadratic", warmup_ratio=recipe.warmup_ratio)
    trainer = silenced(lambda: SparseEncoderTrainer(model=model, args=args, train_dataset=rows, loss=loss, callbacks=[scheduler, Validation()]),
                       progress)
    with fast or nullcontext(), document_length(model, recipe.train_doc_max_length or recipe.doc_max_length):
        if not history:
            validate(0)
        trainer.train(resume_from_checkpoint=resume and any(checkpoints.glob("checkpoint-*")) or None)
        if history[-1]["step"] != trainer.state.global_step:
            validate(trainer.state.global_step)
    if best:
        best.restore(model)
    model.eval()

    summary = {
        "recipe": asdict(recipe), "train_queries": len(train_ids), "validation_queries": len(val_ids), "rows": len(rows),
        "steps": trainer.state.global_step, "kept_step": best.step if best else trainer.state.global_step,
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "teachers_on_validation": _teacher_validation({**teacher_scores, "ensemble": targets}, candidates, val_ids, val_qrels),
        "validation": history, "log": trainer.state.log_history,
    }
    with building(output, is_model_folder, "a model folder") as tmp:
        model.save(str(tmp))
        if recipe.student == "inference-free":
            write_weights(query_table(model), tmp / "idf.json")
        # the honest model-selection number: full retrieval over the whole corpus for the held-out queries
        summary["validation_query_ids"] = val_ids
        summary["validation_retrieval"] = evaluate_model(str(tmp), dataset, recipe.split, doc_max_length=recipe.doc_max_length,
                                                         query_ids=val_ids, lexical_weight=recipe.lexical_weight, progress=progress)
        (tmp / "recipe.yaml").write_text(_yaml(asdict(recipe)), encoding="utf-8")
        (tmp / "training_log.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        plot_curves(summary, tmp / "training_curve.png")
    shutil.rmtree(checkpoints, ignore_errors=True)
    return summary


BEST = "best.safetensors"
"""In a run's checkpoint folder, with ``patience``: the best validated weights so far (:class:`BestWeights`)."""


class BestWeights:
    """The model weights with the highest validation nDCG@10 so far (the first on ties), kept in ``path`` for a run with
    ``patience``, as transformers' ``load_best_model_at_end`` with ``EarlyStoppingCallback`` keeps its best checkpoint.

    With ``alpha``, later weights replace the kept ones only when their per-query nDCG@10 is significantly higher (two-sided
    paired t-test, p < ``alpha``, :func:`lsr.eval.significance.paired_ttest`), not merely higher on average: on a
    validation set of a hundred queries a higher mean is often noise, and the kept weights, the starting model's first,
    should give way only to a model shown to be better (a stricter ``early_stopping_threshold``).
    The file records the step, mean and per-query scores it was validated at, so the weights and their scores always
    travel together (a resumed run continues from it; a new run starts without it).
    """

    def __init__(self, path: Path, resumed: bool, alpha: float | None = None):
        self.path, self.alpha, self.step, self.score, self.scores = path, alpha, -1, -math.inf, {}
        if resumed and path.is_file():
            from safetensors import safe_open

            with safe_open(str(path), "pt") as weights:
                recorded = weights.metadata()
            self.step, self.score, self.scores = int(recorded["step"]), float(recorded["score"]), json.loads(recorded.get("scores", "{}"))
        else:
            path.unlink(missing_ok=True)

    def better(self, scores: dict[str, float]) -> bool:
        """Whether weights validated at ``scores`` (query id -> nDCG@10) should replace the kept ones."""
        from lsr.eval.significance import paired_ttest

        if self.step < 0:
            return True
        mean = float(np.mean(list(scores.values())))
        if mean <= self.score:
            return False
        if self.alpha is None or not self.scores:  # no test asked for, or kept by a run that recorded no per-query scores
            return True
        test = paired_ttest(scores, self.scores, alpha=self.alpha)
        log.info("validation nDCG@10 %.4f against the kept step %d's %.4f: p = %.3g, %s", mean, self.step, self.score, test.p,
                 "kept instead" if test.significant else f"not significant at {self.alpha:g}, step {self.step} stays")
        return test.significant

    def offer(self, model, step: int, scores: dict[str, float]) -> None:
        """Keep ``model``'s weights if their validation ``scores`` (query id -> nDCG@10) are :meth:`better`."""
        from safetensors.torch import save_model

        if self.better(scores):
            score = float(np.mean(list(scores.values())))
            with atomic_file(self.path) as tmp:
                save_model(model, str(tmp), metadata={"step": str(step), "score": repr(score), "scores": json.dumps(scores)})
            self.step, self.score, self.scores = step, score, dict(scores)

    def restore(self, model) -> None:
        """Load the best weights into ``model``."""
        from safetensors.torch import load_model

        load_model(model, self.path)
        log.info("kept the weights of step %d (validation nDCG@10 %.4f)", self.step, self.score)


PROGRESS = "validation.json"
"""In a run's checkpoint folder: its validation history, time spent and settings (the recipe's and the corpus checksum), for ``--resume``."""


def changed_settings(before: dict, now: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """``"key before -> now"`` for each setting that differs between a recorded run's ``before`` and ``now`` (compared as
    JSON holds them: tuples as lists), but those in ``ignore``."""
    now = json.loads(json.dumps(now))
    return [f"{key} {before.get(key)!r} -> {now.get(key)!r}" for key in sorted(set(before) | set(now))
            if key not in ignore and before.get(key) != now.get(key)]


def resumed_progress(checkpoints: Path, settings: dict) -> dict:
    """What ``--resume`` continues from the interrupted run in ``checkpoints`` (its :data:`PROGRESS`; {} when there is none).

    LsrError when that run recorded other ``settings`` (naming each changed one, then and now), or none: a resumed run
    must train with the settings its first steps were trained with, since its log records one set for every step.
    """
    progress_file = checkpoints / PROGRESS
    if not progress_file.is_file() and not any(checkpoints.glob("checkpoint-*")):
        return {}
    try:
        resumed = json.loads(progress_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        resumed = {}
    before = resumed.get("settings") if isinstance(resumed, dict) else None
    if not isinstance(before, dict):
        raise LsrError(f"--resume: {checkpoints} does not record the settings its run was started with; run without --resume to start over")
    changed = changed_settings(before, settings)
    if changed:
        raise LsrError(f"--resume: the run in {checkpoints} was started with other settings ({'; '.join(changed)}): resume it with the "
                       "settings it was started with, or run without --resume to start over")
    return resumed


@contextmanager
def document_length(model, tokens: int):
    """Within the block, documents are truncated to ``tokens`` (the setting is restored afterwards)."""
    from sentence_transformers.sparse_encoder.modules import Transformer

    transformers = [m for m in model.modules() if isinstance(m, Transformer)]
    before = [m.document_length for m in transformers]
    for m in transformers:
        m.document_length = tokens
    try:
        yield
    finally:
        for m, length in zip(transformers, before):
            m.document_length = length


def _loss(recipe: TrainRecipe, model, idf: dict[str, float]):
    from sentence_transformers.sparse_encoder import losses

    from lsr.encoders.sparse import weight_vector
    from lsr.training.losses import LexicalPriorKLDivLoss, TermWeightedFlopsLoss

    base = {
        "kl": lambda: (LexicalPriorKLDivLoss(model, recipe.lexical_weight, temperature=recipe.temperature) if recipe.lexical_weight
                       else losses.SparseDistillKLDivLoss(model, temperature=recipe.temperature)),
        "margin_mse": lambda: losses.SparseMarginMSELoss(model),
        "infonce": lambda: losses.SparseMultipleNegativesRankingLoss(model),
    }[recipe.loss]()
    term_weights = None
    if recipe.regularizer == "flops" and recipe.student == "inference-free":
        from lsr.encoders.sparse import vocabulary

        terms = vocabulary(model)
        term_weights = weight_vector({t: i for i, t in enumerate(terms)}, idf)
    regularizer = TermWeightedFlopsLoss(model, threshold=recipe.l0_threshold, term_weights=term_weights)
    siamese = recipe.student == "splade"
    with nullcontext() if siamese else _root_warning_dropped("query_regularizer_weight is None"):
        return losses.SpladeLoss(model, base, document_regularizer_weight=recipe.doc_reg_weight,
                                 query_regularizer_weight=recipe.query_reg_weight if siamese else None,
                                 document_regularizer=regularizer,
                                 query_regularizer=TermWeightedFlopsLoss(model) if siamese else None)


@contextmanager
def _root_warning_dropped(start: str):
    """Drop the root logger's records that start with ``start`` while the block runs. ``SpladeLoss`` warns on the root
    logger that an inference-free student's queries go unregularised, which is the design (its query weights are a
    fixed table), and the warning would show under ``--quiet``."""
    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(start)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _teacher_validation(scores: dict, candidates: Candidates, val_ids: list[str], qrels: dict) -> dict[str, float]:
    """Each teacher's nDCG@10 as a reranker of the validation queries' candidates."""
    return {t: round(evaluate({q: dict(zip(candidates.lists[q], s[q].tolist())) for q in val_ids}, qrels)["nDCG@10"], 4) for t, s in scores.items()}


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def plot_curves(summary: dict, path: Path) -> None:
    """Training loss, validation nDCG@10 and document sparsity against steps, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = [e for e in summary["log"] if "loss" in e]
    val = summary["validation"]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot([e["step"] for e in log], [e["loss"] for e in log])
    axes[0].set(title="training loss", xlabel="step")
    axes[1].plot([v["step"] for v in val], [v["val_nDCG@10"] for v in val], marker="o")
    for i, (teacher, value) in enumerate(summary["teachers_on_validation"].items(), start=1):
        axes[1].axhline(value, linestyle=":", linewidth=1.2, color=f"C{i}", label=teacher)
    axes[1].set(title="validation nDCG@10 (rerank)", xlabel="step")
    axes[1].legend(fontsize=7)
    axes[2].plot([v["step"] for v in val], [v["avg_doc_terms"] for v in val], marker="o", color="tab:green")
    axes[2].set(title="active terms per document", xlabel="step")
    figure.suptitle(summary["recipe"]["name"])
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
