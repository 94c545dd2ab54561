"""Inference-free query encoding: tokenizer + weight table, no torch.

A query is tokenized without special tokens; each distinct token gets its weight from the table
(IDF or learned), negative weights clipped to 0, exactly as sentence-transformers'
``SparseStaticEmbedding`` does. The table is an ``idf.json`` (token -> weight), the format that
``SparseStaticEmbedding.from_json`` and OpenSearch read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tokenizers import Tokenizer

from lsr.atomic import atomic_file
from lsr.config import cache_dir
from lsr.encoders.names import resolve_model
from lsr.errors import LsrError

MAX_QUERY_TOKENS = 512  # SparseStaticEmbedding truncates at the tokenizer's model_max_length


def tokenizer_file(model_path: str) -> Path:
    """The ``tokenizer.json`` of a model: at its top, in the document route of an inference-free model
    (``document_0_Transformer/``), or, for a hub id, fetched once into the cache."""
    for path in (Path(model_path) / "tokenizer.json", *sorted(Path(model_path).glob("document_*_Transformer/tokenizer.json"))):
        if path.is_file():
            return path
    from transformers import AutoTokenizer  # a hub id: fetch the tokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    target = cache_dir() / model_path.replace("/", "--")
    target.mkdir(parents=True, exist_ok=True)
    tokenizer.backend_tokenizer.save(str(target / "tokenizer.json"))
    return target / "tokenizer.json"


def model_tokenizer(name: str) -> Tokenizer:
    """The fast tokenizer of a model by short name, path or hub id (a hub id's is fetched once into the cache)."""
    return load_tokenizer(tokenizer_file(resolve_model(name)))


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """A fast tokenizer from a ``tokenizer.json`` file (or a directory holding one), padding off."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise LsrError(f"tokenizer not found: {path}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for a file it cannot parse
        raise LsrError(f"cannot read tokenizer {path}: {' '.join(str(error).split())}") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def read_weights(path: str | os.PathLike) -> dict[str, float]:
    """Read an ``idf.json`` table (token -> weight)."""
    try:
        with open(path, encoding="utf-8") as handle:
            table = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise LsrError(f"cannot read weight table {path}: {error}") from None
    if not isinstance(table, dict) or not all(isinstance(v, (int, float)) for v in table.values()):
        raise LsrError(f"{path}: expected a JSON object mapping tokens to numbers")
    return {token: float(weight) for token, weight in table.items()}


def write_weights(table: dict[str, float], path: str | os.PathLike) -> None:
    """Write an ``idf.json`` table atomically; a folder or an unwritable place for ``path`` is a clear error, and so is
    an existing ``path`` that is not a weight table (a corpus, a manifest, a device): lsr replaces only its own."""
    path = Path(path)
    if path.is_dir():
        raise LsrError(f"{path} is a folder: give the weight table's file name, e.g. {path / 'idf.json'}")
    if path.is_symlink() or path.exists() and not (path.is_file() and _holds_weights(path)):
        raise LsrError(f"{path} exists and is not a weight table: lsr replaces only a table it wrote; remove it or choose another output")
    try:
        with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
            json.dump(table, out, ensure_ascii=False)
    except OSError as error:
        raise LsrError(f"cannot write weight table {path}: {error.strerror or error}") from None


def _holds_weights(path: Path) -> bool:
    """Whether the file at ``path`` reads as a weight table (:func:`read_weights`)."""
    try:
        read_weights(path)
    except LsrError:
        return False
    return True


class TableQueryEncoder:
    """Encode queries as {token: weight} with a tokenizer and a weight table; no model runs."""

    def __init__(self, tokenizer: Tokenizer, weights: dict[str, float]):
        self.tokenizer = tokenizer
        self.weights = weights

    @classmethod
    def from_files(cls, tokenizer_path: str | os.PathLike, weights_path: str | os.PathLike) -> "TableQueryEncoder":
        """Load from a ``tokenizer.json`` and an ``idf.json``."""
        return cls(load_tokenizer(tokenizer_path), read_weights(weights_path))

    def encode(self, query: str) -> dict[str, float]:
        """Distinct query tokens with a positive weight in the table."""
        tokens = self.tokenizer.encode(query, add_special_tokens=False).tokens[:MAX_QUERY_TOKENS]
        weights = {}
        for token in tokens:
            weight = self.weights.get(token, 0.0)
            if weight > 0:
                weights[token] = weight
        return weights
