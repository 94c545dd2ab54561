"""Training recipes: the YAML files in ``training/`` that ``lsr train`` runs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from lsr.errors import LsrError
from lsr.recipe_files import check_keys, read_recipe

CHOICES = {
    "student": ("inference-free", "splade"),
    "query_weights": ("idf", "idf-trainable"),
    "loss": ("kl", "margin_mse", "infonce"),
    "regularizer": ("idf_flops", "flops"),
    "activation": ("relu", "log1p_relu"),
    "normalisation": ("minmax", "zscore"),
}


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

    def __post_init__(self):
        for f in fields(self):  # YAML reads 1e-4 as a string and 2 as an int: coerce numbers to the field's type
            value = getattr(self, f.name)
            kind = float if f.type.startswith("float") else int if f.type.startswith("int") else None
            if kind and value is not None and not isinstance(value, bool):
                try:
                    object.__setattr__(self, f.name, kind(value))
                except (TypeError, ValueError):
                    raise LsrError(f"recipe {self.name!r}: {f.name} must be a number, got {value!r}") from None
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise LsrError(f"recipe {self.name!r}: {key} must be one of {allowed}, got {getattr(self, key)!r}")
        if not self.teachers:
            raise LsrError(f"recipe {self.name!r}: at least one teacher is needed")
        if not 0 < self.validation_fraction < 1:
            raise LsrError(f"recipe {self.name!r}: validation_fraction must be between 0 and 1")

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> "TrainRecipe":
        """Read a recipe YAML (unknown keys are errors); ``overrides`` replace its values."""
        path = Path(path)
        data = read_recipe(path)
        check_keys(path, data, {f.name for f in fields(cls)})
        data.setdefault("name", path.stem)
        data.update(overrides)
        return cls(**data)
