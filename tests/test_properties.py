"""Property-based tests (hypothesis) of the parsers that read what users write: whatever the bytes or settings, a
parser returns well-formed records or raises an LsrError that names the file, never another exception.

The examples are derandomised (the ``lsr`` profile in ``tests/conftest.py``), so every run tries the same cases;
``HYPOTHESIS_PROFILE=deep`` tries many more, at random.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lsr.data import Dataset
from lsr.errors import LsrError
from lsr.eval.runs import read_run, write_run
from lsr.index.recipe import DenseRecipe, IndexRecipe, load_recipe
from lsr.recipe_files import parse_overrides
from lsr.training.recipe import TrainRecipe, load_training_recipe

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["1e-4", "1.0e12", "8.0", ".inf", "-5", "0", "bm25", "idf", "splade-tiny"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))
NEWLINES = st.sampled_from([b"\n", b"\r\n"])
BOM = st.sampled_from([b"", b"\xef\xbb\xbf"])


def _file(content: bytes, name: str) -> Path:
    """``content`` written to ``name`` in a fresh folder (hypothesis runs many examples per test: no tmp_path)."""
    folder = Path(tempfile.mkdtemp(prefix="lsr-prop-"))
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _lines(line: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """A file of such lines (and some raw bytes), with either line break, maybe after a byte-order mark."""
    return st.builds(lambda bom, parts, newline: bom + newline.join(parts), BOM, st.lists(st.one_of(line, st.binary(max_size=20)), max_size=8),
                     NEWLINES)


def _is_id(value) -> bool:
    return isinstance(value, str) and value != "" and not any(c.isspace() for c in value)


RECORD = st.dictionaries(st.sampled_from(["_id", "title", "text", "extra"]), st.one_of(SCALARS, st.lists(SCALARS, max_size=2)), max_size=4)
JSONL = _lines(st.one_of(RECORD.map(lambda r: json.dumps(r).encode()), st.text(max_size=30).map(str.encode)))


@given(JSONL)
def test_any_corpus_file_gives_documents_with_safe_unique_ids_or_a_clear_error(content):
    path = _file(content, "c/corpus.jsonl")
    try:
        docs = list(Dataset("c", path.parent).corpus())
    except LsrError as error:
        assert str(error).startswith(f"{path}:")
        return
    ids = [doc.id for doc in docs]
    assert all(_is_id(i) for i in ids) and len(set(ids)) == len(ids)
    assert all(isinstance(doc.title, str) and isinstance(doc.text, str) for doc in docs)


@given(JSONL)
def test_any_queries_file_gives_text_queries_or_a_clear_error(content):
    path = _file(content, "c/queries.jsonl")
    try:
        queries = Dataset("c", path.parent).all_queries()
    except LsrError as error:
        assert str(error).startswith(f"{path}:")
        return
    assert all(_is_id(q) and isinstance(text, str) for q, text in queries.items())


QREL_FIELD = st.one_of(st.text(max_size=6), st.integers(-3, 3).map(str), st.sampled_from(["query-id", "corpus-id", "score", "1.5", " 1"]))
QRELS = _lines(st.lists(QREL_FIELD, min_size=1, max_size=4).map(lambda parts: "\t".join(parts).encode()))


@given(QRELS)
def test_any_qrels_file_gives_integer_judgements_of_safe_ids_or_a_clear_error(content):
    path = _file(content, "c/qrels/test.tsv")
    (path.parent.parent / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n', encoding="utf-8")
    try:
        qrels = Dataset("c", path.parent.parent).qrels("test")
    except LsrError as error:
        assert str(error).startswith(f"{path}:")
        return
    assert all(_is_id(q) and all(_is_id(d) and type(g) is int for d, g in judged.items()) for q, judged in qrels.items())


RUN_FIELD = st.one_of(st.text(max_size=6), st.sampled_from(["Q0", "1", "nan", "inf", "-0.5", "1e400", "x"]))
RUNS = _lines(st.lists(RUN_FIELD, min_size=1, max_size=7).map(lambda parts: " ".join(parts).encode()))


@given(RUNS)
def test_any_run_file_gives_finite_scores_or_a_clear_error(content):
    path = _file(content, "run.trec")
    try:
        run = read_run(path)
    except LsrError as error:
        assert str(error).startswith(f"{path}:")
        return
    assert all(math.isfinite(score) for hits in run.values() for score in hits.values())


IDS = st.text(min_size=1, max_size=8).filter(_is_id)
RUN = st.dictionaries(IDS, st.dictionaries(IDS, st.floats(-1e6, 1e6), min_size=1, max_size=5), max_size=4)


@given(RUN)
def test_a_written_run_reads_back_as_it_was(run):
    path = _file(b"", "run.trec")
    write_run(run, path, "lsr")
    back = read_run(path)
    assert back.keys() == {q for q, hits in run.items() if hits}
    for query, hits in back.items():
        assert hits.keys() == run[query].keys()
        assert all(abs(score - run[query][doc]) <= 1e-6 for doc, score in hits.items())


YAML_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["[", "{a", "a: b: c", "'", "*x", "!!python/tuple [1]", "- a\n b", "1e-4"]))
SET_ITEMS = st.one_of(st.text(max_size=20), st.builds(lambda key, value: f"{key}={value}", st.text(max_size=8), YAML_TEXT))


@given(st.lists(SET_ITEMS, max_size=4))
def test_any_set_option_is_read_or_is_a_clear_error(items):
    try:
        overrides = parse_overrides(items)
    except LsrError as error:
        assert str(error).startswith("--set")
        return
    assert len(overrides) <= len(items)


def _recipe_settings(names: list[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from([*names, "unknown_key"]), VALUES, max_size=5)


@pytest.mark.parametrize("kind, names", [
    ("sparse", [f.name for f in fields(IndexRecipe)]),
    ("dense", [f.name for f in fields(DenseRecipe)]),
])
@given(data=st.data())
def test_any_index_recipe_loads_or_is_a_clear_error_naming_the_file(kind, names, data):
    settings = data.draw(_recipe_settings(names))
    path = _file(yaml.safe_dump({**settings, **({"kind": kind} if kind == "dense" else {})}).encode(), "r/recipe.yaml")
    try:
        load_recipe(path)
    except LsrError as error:
        assert str(error).startswith((f"{path}:", f"cannot read recipe {path}")) and "\n" not in str(error)


@given(_recipe_settings([f.name for f in fields(TrainRecipe)]))
def test_any_training_recipe_loads_or_is_a_clear_error_naming_the_file(settings):
    path = _file(yaml.safe_dump(settings).encode(), "r/train.yaml")
    try:
        load_training_recipe(path)
    except LsrError as error:
        assert str(error).startswith((f"{path}:", f"cannot read recipe {path}")) and "\n" not in str(error)
