"""Training recipes: the YAML files in ``training/`` that ``lsr train`` runs.

Paths in a recipe file (``document_index``; ``backbone``, ``dataset`` or a teacher's model when given as a
path, e.g. ``../out/models/NAME``) are relative to the recipe's folder (:mod:`lsr.recipe_files`);
settings given on the command line (``--set``) are read from the working directory as usual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from lsr.errors import LsrError
from lsr.recipe_files import (
    COUNT,
    FRACTION,
    POSITIVE,
    Number,
    check_keys,
    check_name,
    check_numbers,
    check_strings,
    made,
    name_or_path,
    read_recipe,
    resolve_relative,
)
from lsr.training.ensemble import check_teacher_weights

CHOICES = {
    "student": ("inference-free", "splade"),  # dense students: DenseTrainRecipe
    "query_weights": ("idf", "idf-trainable"),
    "loss": ("kl", "margin_mse", "infonce"),
    "regularizer": ("idf_flops", "flops"),
    "activation": ("relu", "log1p_relu"),
    "normalisation": ("minmax", "zscore"),
}


SHARED_NUMBERS = {"validation_fraction": Number(low=0, high=1, above=True),  # and below 1: checked with its own message
                  "seed": Number(integer=True, low=0), "candidates_k": COUNT, "batch_size": COUNT,
                  "learning_rate": POSITIVE, "warmup_ratio": FRACTION, "max_steps": Number(integer=True, low=1, optional=True)}
TRAIN_NUMBERS = {**SHARED_NUMBERS, "doc_max_length": COUNT, "train_doc_max_length": Number(integer=True, low=1, optional=True),
                 "query_max_length": COUNT, "score_scale": POSITIVE, "negatives": COUNT, "rows_per_query": COUNT, "temperature": POSITIVE,
                 "doc_reg_weight": Number(low=0), "query_reg_weight": Number(low=0), "l0_threshold": Number(integer=True, low=0, optional=True),
                 "epochs": POSITIVE, "eval_every": COUNT, "patience": Number(integer=True, low=1, optional=True),
                 "selection_alpha": Number(low=0, high=1, above=True, optional=True),
                 "lexical_weight": Number(low=0)}
DENSE_NUMBERS = {**SHARED_NUMBERS, "max_length": COUNT, "negative_depth": COUNT, "hard_negatives": Number(integer=True, low=0),
                 "epochs": COUNT, "scale": POSITIVE, "validation_depth": COUNT, "static_texts": COUNT, "static_epochs": COUNT,
                 "static_learning_rate": POSITIVE}
@dataclass(frozen=True)
class TrainRecipe:
    """Everything that defines a training run (see ``training/*.yaml`` for commented examples)."""

    name: str
    dataset: str = "scifact"
    split: str = "train"
    validation_fraction: float = 0.1      # held-out train queries for model selection (never test)
    seed: int = 42
    student: str = "inference-free"       # inference-free: IDF query table; splade: siamese
    backbone: str = "splade-tiny"         # a SparseEncoder / MLM checkpoint name, path or hub id
    doc_max_length: int = 256            # document tokens when validating, saving and indexing
    train_doc_max_length: int | None = None  # document tokens in training rows (None: doc_max_length); shorter is faster
    query_max_length: int = 64
    query_weights: str = "idf"            # idf (frozen) or idf-trainable
    teachers: list[str] = field(default_factory=lambda: ["dense:all-MiniLM-L6-v2", "sparse:splade-tiny", "bm25"])
    teacher_weights: dict[str, float] | None = None
    normalisation: str = "minmax"
    score_scale: float = 30.0
    candidates_k: int = 100               # BM25 top-k per query, plus the judged positives
    negatives: int = 7                    # candidates per training row besides the positive
    rows_per_query: int = 4               # rows (different negative samples) per query and epoch
    loss: str = "kl"
    temperature: float = 1.0
    regularizer: str = "idf_flops"        # idf_flops: FLOPS on raw doc weights; flops: on idf * weights
    doc_reg_weight: float = 0.002
    query_reg_weight: float = 0.002       # siamese students only
    l0_threshold: int | None = None       # FLOPS only over documents with more active terms than this
    activation: str = "relu"              # log1p_relu: the l0 activation log(1 + log(1 + ReLU))
    warmup_ratio: float = 0.33            # quadratic warm-up of regulariser weights over this share of steps
    epochs: float = 1.0                   # passes over the train queries (each pass: rows_per_query rows per query)
    max_steps: int | None = None          # stop after this many optimiser steps (None: all rows once)
    batch_size: int = 12
    learning_rate: float = 2e-5
    eval_every: int = 100                 # steps between validation runs and checkpoints
    patience: int | None = None           # None: keep the last step; n: keep the best validated weights (the start included)
                                          # and stop after n validations without a better one
    selection_alpha: float | None = None  # with patience: a later step is better only if significantly (paired t-test, p < this)
    lexical_weight: float = 0.0           # the BM25 channel the model is indexed with: the student's score adds this x BM25

    def __post_init__(self):
        check_strings(self, ("name", "dataset", "split", "backbone"))
        check_name(self.name)  # it names the model's folder
        if not isinstance(self.teachers, list) or not all(isinstance(t, str) for t in self.teachers):
            raise LsrError(f"recipe {self.name!r}: teachers must be a list of names (e.g. [bm25, 'dense:all-MiniLM-L6-v2']), got {self.teachers!r}")
        if self.teacher_weights is not None:
            try:
                check_teacher_weights(self.teacher_weights, self.teachers)
            except LsrError as error:
                raise LsrError(f"recipe {self.name!r}: teacher_weights: {error}") from None
        check_numbers(self, TRAIN_NUMBERS, f"recipe {self.name!r}", reals_as_float=True)
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise LsrError(f"recipe {self.name!r}: {key} must be one of {allowed}, got {getattr(self, key)!r}")
        if not self.teachers:
            raise LsrError(f"recipe {self.name!r}: at least one teacher is needed")
        if self.selection_alpha is not None and self.patience is None:
            raise LsrError(f"recipe {self.name!r}: selection_alpha chooses among validated weights, which only patience keeps; "
                           "set patience too, or remove selection_alpha")
        if not 0 < self.validation_fraction < 1:
            raise LsrError(f"recipe {self.name!r}: validation_fraction must be between 0 and 1")
        if self.lexical_weight < 0 or (self.lexical_weight and ("bm25" not in self.teachers or self.student != "inference-free"
                                                               or self.loss != "kl")):
            raise LsrError(f"recipe {self.name!r}: lexical_weight must be >= 0, and > 0 needs the bm25 teacher, an inference-free student "
                           "and the kl loss")

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> "TrainRecipe":
        """Read a recipe YAML (unknown keys are errors); ``overrides`` replace its values."""
        path = Path(path)
        data = read_recipe(path)
        check_keys(path, {**data, **overrides}, {f.name for f in fields(cls)})
        data = resolve_paths(path, data)
        data.setdefault("name", path.stem)
        data.update(overrides)
        return made(path, cls, data)


@dataclass(frozen=True)
class DenseTrainRecipe:
    """Fine-tuning a sentence-transformers bi-encoder (``student: dense``; see ``training/minilm-scifact.yaml``).

    ``tune: query`` trains the query encoder only: the document vectors of ``document_index`` (a
    dense index recipe of the backbone, path relative to this recipe's folder) stay fixed, and the loss is
    the cross-entropy of each (query, judged positive) row against *every* document of the
    corpus at similarity ``scale`` (cheap: only queries go through the model; the index needs no
    re-encoding beyond the backbone's). ``tune: both`` trains the whole model: rows are (query, a
    judged positive, ``hard_negatives`` documents drawn from the BM25 top ``negative_depth`` that
    are not judged positive), MultipleNegativesRankingLoss (in-batch + hard negatives), new draws
    each epoch (slow on a CPU: every row encodes 2 + ``hard_negatives`` documents). ``tune: static`` trains a
    static-embedding query encoder (no transformer at query time, :mod:`lsr.training.static`): distilled from the
    backbone, regressed onto the backbone's vectors of ``static_texts`` corpus titles and sentences for
    ``static_epochs`` at ``static_learning_rate``, then tuned on the train queries as ``tune: query`` does.
    ``validation_fraction`` of the split's queries (``seed``) are held out: never trained on, and
    the only queries a hybrid built on this model may be tuned on.
    """

    name: str
    student: str = "dense"
    tune: str = "query"                  # query: query encoder only, against a frozen document index; both: the whole model;
                                         # static: a static-embedding query encoder, against the frozen document index
    document_index: str = "../indexing/minilm.yaml"  # tune: query -- the dense index recipe (of the backbone) whose vectors stay fixed
    dataset: str = "scifact"
    split: str = "train"
    validation_fraction: float = 0.2
    seed: int = 42
    backbone: str = "all-MiniLM-L6-v2"   # a SentenceTransformer short name, path or hub id
    max_length: int = 256                # tokens per text while training
    candidates_k: int = 100              # BM25 top-k mined per query (cached with the sparse training's)
    negative_depth: int = 30             # hard negatives come from the BM25 top this many
    hard_negatives: int = 1              # per row, besides the in-batch negatives
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0                  # MultipleNegativesRankingLoss similarity scale
    max_steps: int | None = None         # stop after this many optimiser steps (None: all epochs)
    validation_depth: int = 20           # validation reranks positives + BM25 top this many (held-out queries)
    static_texts: int = 40000            # tune: static -- corpus titles and sentences regressed onto the backbone's vectors
    static_epochs: int = 4
    static_learning_rate: float = 0.01

    def __post_init__(self):
        check_strings(self, ("name", "dataset", "split", "backbone", "document_index"))
        check_name(self.name)  # it names the model's folder
        check_numbers(self, DENSE_NUMBERS, f"recipe {self.name!r}", reals_as_float=True)
        if self.tune not in ("query", "both", "static"):
            raise LsrError(f"recipe {self.name!r}: tune must be query (the query encoder only), both or static (a static-embedding "
                           f"query encoder), got {self.tune!r}")
        if self.student != "dense":
            raise LsrError(f"recipe {self.name!r}: a dense training recipe has student: dense, got {self.student!r}")
        if not 0 < self.validation_fraction < 1:
            raise LsrError(f"recipe {self.name!r}: validation_fraction must be between 0 and 1")
        if self.batch_size < 2:
            raise LsrError(f"recipe {self.name!r}: batch_size must be at least 2 (the other rows of a batch are the negatives)")


def load_training_recipe(path: str | os.PathLike, **overrides) -> TrainRecipe | DenseTrainRecipe:
    """Read any training recipe: ``student: dense`` -> :class:`DenseTrainRecipe`, else :class:`TrainRecipe`."""
    path = Path(path)
    data = read_recipe(path)
    if {**data, **overrides}.get("student") != "dense":
        return TrainRecipe.load(path, **overrides)
    check_keys(path, {**data, **overrides}, {f.name for f in fields(DenseTrainRecipe)})
    data = resolve_paths(path, {"document_index": DenseTrainRecipe.document_index, **data})  # the default too is relative to the recipe
    data.setdefault("name", path.stem)
    data.update(overrides)
    return made(path, DenseTrainRecipe, data)


def resolve_paths(path: str | os.PathLike, data: dict) -> dict:
    """Settings read from the training recipe file at ``path``, with their paths relative to its folder.

    ``document_index`` is a path; ``dataset``, ``backbone`` and each teacher's model (``dense:MODEL``, both models of
    ``dense:DOCUMENTS|QUERIES``, also as a key of ``teacher_weights``) are paths only when they clearly are one
    (:func:`lsr.recipe_files.name_or_path`).
    """
    data = dict(data)
    for key in ("dataset", "backbone"):
        if key in data:
            data[key] = name_or_path(path, data[key], key)
    if isinstance(data.get("document_index"), str):
        data["document_index"] = resolve_relative(path, data["document_index"])
    if isinstance(data.get("teachers"), list):
        data["teachers"] = [_teacher(path, spec) for spec in data["teachers"]]
    if isinstance(data.get("teacher_weights"), dict):
        data["teacher_weights"] = {_teacher(path, spec): weight for spec, weight in data["teacher_weights"].items()}
    return data


def _teacher(path: str | os.PathLike, spec):
    """A teacher spec (``kind:argument``) whose argument, when a path, is read relative to the recipe's folder."""
    if not isinstance(spec, str) or ":" not in spec:
        return spec
    kind, _, argument = spec.partition(":")
    from lsr.training.teachers import QUERY_MODEL

    return f"{kind}:" + QUERY_MODEL.join(name_or_path(path, part, "teacher") if part else part for part in argument.split(QUERY_MODEL))
