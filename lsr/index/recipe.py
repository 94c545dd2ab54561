"""Index recipes: the YAML files in ``indexing/`` that say how a corpus becomes a Lucene index."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from lsr.errors import LsrError

QUERY_ENCODERS = ("model", "idf", "table")


@dataclass(frozen=True)
class IndexRecipe:
    """How to index a corpus.

    ``encoder`` is ``bm25`` or a sparse encoder (short name, path or hub id). ``query_encoder`` says
    how queries are encoded at search time: ``model`` runs the encoder on them (siamese SPLADE),
    ``idf`` weights query tokens by the IDF of the corpus being indexed (zero-shot inference-free),
    ``table`` uses the inference-free model's own query weight table. Weights become Lucene
    impacts as ``round(w * scale)``.
    """

    name: str
    encoder: str = "bm25"
    query_encoder: str = "model"
    doc_max_length: int = 256
    query_max_length: int = 64
    doc_scale: float = 100.0
    query_scale: float = 100.0
    batch_size: int = 32
    k1: float = 0.9
    b: float = 0.4

    def __post_init__(self):
        if self.query_encoder not in QUERY_ENCODERS:
            raise LsrError(f"recipe {self.name!r}: query_encoder must be one of {QUERY_ENCODERS}, got {self.query_encoder!r}")
        if self.doc_scale <= 0 or self.query_scale <= 0:
            raise LsrError(f"recipe {self.name!r}: doc_scale and query_scale must be positive")

    @property
    def kind(self) -> str:
        """``bm25`` or ``impact``."""
        return "bm25" if self.encoder == "bm25" else "impact"

    def fingerprint(self) -> str:
        """A short hash of the settings that change the index (not the name)."""
        settings = {k: v for k, v in asdict(self).items() if k != "name"}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "IndexRecipe":
        """Read a recipe YAML; unknown keys are errors (a typo must not be silently ignored)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise LsrError(f"cannot read recipe {path}: {error}") from None
        if not isinstance(data, dict):
            raise LsrError(f"{path}: a recipe is a mapping of settings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LsrError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        data.setdefault("name", path.stem)
        return cls(**data)
