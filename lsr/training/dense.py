"""``lsr train`` with ``student: dense``: fine-tune a sentence-transformers bi-encoder on train queries.

Three ways (``tune`` in the recipe):

- ``query``: only the query encoder learns. The documents keep the backbone's vectors from an
  existing dense index, and each (query, judged positive) row is a softmax over *every* document of
  the corpus (:class:`CorpusSoftmaxLoss`). Only short queries pass through the model, so an epoch
  takes seconds on a CPU, and the held-out queries are validated by full retrieval after each epoch.
- ``both``: the whole model learns with MultipleNegativesRankingLoss: rows (query, a positive,
  hard negatives from the BM25 top ``negative_depth``), new draws each epoch, a batch sampler that
  keeps duplicate texts out of a batch (a shared positive must not be another row's negative).
  Every row encodes 2 + ``hard_negatives`` documents of 256 tokens: slow on a shared CPU.
- ``static``: as ``query``, but the query encoder is a static embedding made from the backbone and the
  corpus (:mod:`lsr.training.static`), so that searching runs no transformer at query time.

Each writes a plain SentenceTransformer directory plus ``lsr_training.json``: the recipe, the
train and held-out query ids, the loss log and the held-out validation. The held-out queries
matter beyond validation: fusion weights of a hybrid built on this model must be chosen on
queries the model never saw, and ``lsr tune-fusion`` restricts itself to them.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lsr.encoders.names import is_model_folder
from lsr.errors import LsrError
from lsr.eval.metrics import evaluate
from lsr.index.manifest import building, check_replaceable
from lsr.index.recipe import TRAINING_INFO
from lsr.training.losses import CorpusSoftmaxLoss
from lsr.training.recipe import DenseTrainRecipe
from lsr.training.teachers import BiEncoderTeacher, Candidates
from lsr.training.train import bm25_candidates, silenced, split_queries, start_run


def dense_rows(recipe: DenseTrainRecipe, candidates: Candidates, qrels: dict, query_ids: list[str]):
    """A datasets.Dataset of (anchor, positive, negative_1..n) text rows: ``recipe.epochs`` passes over
    ``query_ids`` in seeded random order, each row a random judged positive and ``hard_negatives``
    distinct non-positive candidates from the first ``negative_depth``. Queries without a positive
    (or without enough negatives) are skipped."""
    from datasets import Dataset as HFDataset

    rng = np.random.default_rng(recipe.seed)
    names = [f"negative_{i}" for i in range(1, recipe.hard_negatives + 1)]
    columns: dict[str, list[str]] = {"anchor": [], "positive": [], **{name: [] for name in names}}
    for _ in range(recipe.epochs):
        for q in rng.permutation(query_ids).tolist():
            docs = candidates.lists[q]
            positives = [d for d in docs if qrels[q].get(d, 0) > 0]
            negatives = [d for d in docs if qrels[q].get(d, 0) <= 0][:recipe.negative_depth]
            if not positives or len(negatives) < recipe.hard_negatives:
                continue
            columns["anchor"].append(candidates.queries[q])
            columns["positive"].append(candidates.documents[positives[int(rng.integers(len(positives)))]])
            for name, doc in zip(names, rng.choice(len(negatives), size=recipe.hard_negatives, replace=False).tolist()):
                columns[name].append(candidates.documents[negatives[doc]])
    if not columns["anchor"]:
        raise LsrError("no training rows: no train query has a judged positive among its candidates and enough negatives")
    return HFDataset.from_dict(columns)


def rows_loss(loss, rows, batch_size: int = 32) -> float:
    """The mean of ``loss`` over ``rows`` in fixed batches, without gradients (the model in eval mode): the
    text columns are encoded, a ``label`` column is passed as the labels."""
    import torch

    model = loss.model
    model.eval()
    columns = [c for c in rows.column_names if c != "label"]
    total, batches = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            labels = torch.tensor(batch["label"]) if "label" in batch else None
            total += float(loss([model.tokenize(batch[c]) for c in columns], labels))
            batches += 1
    return total / max(batches, 1)


def validation_candidates(candidates: Candidates, qrels: dict, query_ids: list[str], depth: int) -> Candidates:
    """Each query's judged positives + its first ``depth`` other candidates (a reranking check: optimistic
    in absolute terms because the positives are always there, fair for comparing two models)."""
    lists = {}
    for q in query_ids:
        docs = candidates.lists[q]
        lists[q] = [d for d in docs if qrels[q].get(d, 0) > 0] + [d for d in docs if qrels[q].get(d, 0) <= 0][:depth]
    return Candidates({q: candidates.queries[q] for q in query_ids}, lists, candidates.documents)


def rerank_ndcg(model, candidates: Candidates, qrels: dict, batch_size: int = 32) -> float:
    """nDCG@10 of ``model`` reranking each query's candidate list."""
    scores = BiEncoderTeacher("student", model, batch_size=batch_size, progress=False).score(candidates, list(candidates.lists))
    run = {q: dict(zip(candidates.lists[q], s.tolist())) for q, s in scores.items()}
    return round(evaluate(run, {q: qrels[q] for q in candidates.lists})["nDCG@10"], 4)


def query_rows(candidates: Candidates, qrels: dict, query_ids: list[str], rows_of: dict[str, int], seed: int):
    """A datasets.Dataset of (anchor = query text, label = the document row of a judged positive): one row per
    (query, positive in the index), in seeded random order."""
    from datasets import Dataset as HFDataset

    pairs = [(candidates.queries[q], rows_of[d]) for q in query_ids for d in sorted(qrels[q]) if qrels[q][d] > 0 and d in rows_of]
    if not pairs:
        raise LsrError("no training rows: no train query has a judged positive in the document index")
    order = np.random.default_rng(seed).permutation(len(pairs))
    return HFDataset.from_dict({"anchor": [pairs[i][0] for i in order], "label": [int(pairs[i][1]) for i in order]})


def full_ndcg(model, queries: dict[str, str], qrels: dict, documents: np.ndarray, doc_ids: list[str], k: int = 100) -> float:
    """nDCG@10 of ``model``'s query vectors searching all ``documents`` by inner product (the held-out check)."""
    from lsr.encoders.dense import encode

    vectors = encode(model, list(queries.values()), "query")
    scores = vectors @ np.asarray(documents).T
    top = np.argsort(-scores, axis=1)[:, :k]
    run = {q: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(queries)}
    return round(evaluate(run, {q: qrels[q] for q in queries})["nDCG@10"], 4)


def train_dense(recipe: DenseTrainRecipe, output: str | Path, out_dir: Path = Path("out"), data_dir: str | None = None,
                threads: int = 2, progress: bool = True, validate_base: bool = False) -> dict:
    """Run a dense training recipe; writes a SentenceTransformer directory (+ ``lsr_training.json``) at
    ``output`` (built beside it, renamed when complete). Returns the summary. ``validate_base`` also
    scores the untrained backbone on the held-out queries (``tune: both``: one more encoding pass)."""
    import torch
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    from lsr.encoders.loading import no_progress_bars
    from lsr.encoders.names import resolve_model

    started = time.perf_counter()
    output = Path(output)
    check_replaceable(output, is_model_folder, "a model folder")  # before any work: building() would refuse it only once trained
    if recipe.tune in ("query", "static"):
        document_recipe(recipe)  # before any work: a bad one would otherwise fail after the static distillation
    dataset, qrels = start_run(recipe, data_dir, threads)
    candidates = bm25_candidates(dataset, recipe.split, recipe.candidates_k, out_dir, threads, progress)
    train_ids, val_ids = split_queries(list(candidates.lists), recipe.validation_fraction, recipe.seed)

    # a fresh copy, not load_dense_encoder's: that one is cached for inference and training must not change it
    with no_progress_bars():
        model = SentenceTransformer(resolve_model(recipe.backbone), device="cpu")
    model.max_seq_length = recipe.max_length
    checkpoints = output.with_name(output.name + ".checkpoints")
    if recipe.tune == "static":
        from lsr.training.static import static_encoder

        model = static_encoder(model, dataset, recipe.static_texts, recipe.static_epochs, recipe.static_learning_rate, recipe.seed,
                               str(checkpoints), progress=progress)
    history: list[dict] = []
    if recipe.tune in ("query", "static"):
        documents, doc_ids = backbone_vectors(recipe, dataset, out_dir, threads, progress)
        rows = query_rows(candidates, qrels, train_ids, {d: i for i, d in enumerate(doc_ids)}, recipe.seed)
        loss = CorpusSoftmaxLoss(model, documents, recipe.scale)
        held_out = {q: candidates.queries[q] for q in val_ids}
        what = f"nDCG@10 of full retrieval (frozen document vectors) for {len(val_ids)} held-out queries"

        def validate(epoch: float) -> None:
            model.eval()
            history.append({"epoch": round(epoch, 2), "val_nDCG@10": full_ndcg(model, held_out, qrels, documents, doc_ids)})
            model.train()

        epochs, sampler = recipe.epochs, BatchSamplers.BATCH_SAMPLER
    else:
        rows = dense_rows(recipe, candidates, qrels, train_ids)
        loss = MultipleNegativesRankingLoss(model, scale=recipe.scale)
        validation = validation_candidates(candidates, qrels, val_ids, recipe.validation_depth)
        what = f"nDCG@10 reranking positives + BM25 top {recipe.validation_depth} of {len(val_ids)} held-out queries"

        def validate(epoch: float) -> None:
            model.eval()
            history.append({"epoch": round(epoch, 2), "val_nDCG@10": rerank_ndcg(model, validation, qrels)})
            model.train()

        epochs, sampler = 1, BatchSamplers.NO_DUPLICATES  # dense_rows already holds every epoch's draws

    class Validation(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            if recipe.tune != "both":
                validate(state.epoch)

    if validate_base:
        validate(0)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=epochs, max_steps=recipe.max_steps or -1,
        per_device_train_batch_size=recipe.batch_size, learning_rate=recipe.learning_rate, warmup_steps=recipe.warmup_ratio,
        seed=recipe.seed, data_seed=recipe.seed, batch_sampler=sampler, logging_steps=5,
        save_strategy="no", report_to="none", disable_tqdm=not progress, use_cpu=not torch.cuda.is_available(),
    )
    trainer = silenced(lambda: SentenceTransformerTrainer(model=model, args=args, train_dataset=rows, loss=loss, callbacks=[Validation()]),
                       progress)
    trainer.train()
    if not history or history[-1]["epoch"] != round(trainer.state.epoch, 2):
        validate(trainer.state.epoch)
    model.eval()
    summary = {
        "recipe": asdict(recipe), "dataset": dataset.name, "corpus_sha256": dataset.corpus_sha256, "split": recipe.split,
        "train_queries": train_ids, "validation_queries": val_ids, "rows": len(rows), "steps": trainer.state.global_step,
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "validation": {"what": what, "base": history[0]["val_nDCG@10"] if validate_base else None,
                       "trained": history[-1]["val_nDCG@10"], "history": history},
        "log": trainer.state.log_history,
    }
    with building(output, is_model_folder, "a model folder") as tmp:
        model.save(str(tmp))
        (tmp / TRAINING_INFO).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    shutil.rmtree(checkpoints, ignore_errors=True)
    return summary


def document_recipe(recipe: DenseTrainRecipe):
    """The dense index recipe ``recipe.document_index``; LsrError unless it is one and encodes documents with the recipe's backbone."""
    from lsr.encoders.names import resolve_model
    from lsr.index.recipe import DenseRecipe, load_recipe

    index_recipe = load_recipe(recipe.document_index)
    if not isinstance(index_recipe, DenseRecipe):
        raise LsrError(f"document_index {recipe.document_index}: a {index_recipe.kind} recipe, not a dense one")
    if resolve_model(index_recipe.encoder) != resolve_model(recipe.backbone):
        raise LsrError(f"document_index {recipe.document_index} encodes documents with {index_recipe.encoder!r}, "
                       f"not the backbone {recipe.backbone!r}: tune: {recipe.tune} needs the backbone's document vectors")
    return index_recipe


def backbone_vectors(recipe: DenseTrainRecipe, dataset, out_dir: Path, threads: int, progress: bool) -> tuple[np.ndarray, list[str]]:
    """(document vectors, their ids) of ``recipe.document_index``, built if needed; LsrError unless that
    index was encoded by the recipe's backbone (query vectors must live in the same space)."""
    from lsr.eval.evaluate import ensure_index
    from lsr.search.dense import DenseSearcher

    searcher = DenseSearcher(ensure_index(document_recipe(recipe), dataset, out_dir, threads, progress))
    return np.asarray(searcher.vectors), searcher.doc_ids
