"""Shared fixtures: a tiny BEIR-layout dataset the tests write themselves, and indexes built on it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

TINY_DOCS = [
    ("d1", "Aspirin and colorectal cancer", "Daily aspirin use lowers the risk of colorectal cancer in adults."),
    ("d2", "Vitamin D", "Vitamin D supplements do not prevent fractures in older women."),
    ("d3", "Smoking", "Cigarette smoking causes lung cancer and heart disease."),
    ("d4", "Exercise", "Regular exercise improves insulin sensitivity in type 2 diabetes."),
    ("d5", "Sleep", "Short sleep duration is associated with obesity in children."),
    ("d6", "Coffee", "Coffee consumption is linked to a lower risk of liver disease."),
    ("d7", "Statins", "Statins reduce cholesterol and cardiovascular events."),
    ("d8", "Antibiotics", "Overuse of antibiotics drives bacterial resistance."),
    ("d9", "", ""),
    ("d10", "Vaccines", "Measles vaccination prevents measles outbreaks in schools."),
    ("d11", "", "Aspirin causes stomach bleeding in some patients."),
    ("d12", "Genes", "BRCA1 mutations raise the risk of breast cancer."),
]
TINY_QUERIES = {
    "q1": "Does aspirin reduce colorectal cancer risk?",
    "q2": "smoking and lung cancer",
    "q3": "Do statins lower cholesterol?",
    "q4": "antibiotic resistance in bacteria",
    "q5": "vitamin D fractures",
}
TINY_QRELS = {"q1": {"d1": 1}, "q2": {"d3": 1}, "q3": {"d7": 1}, "q4": {"d8": 1}, "q5": {"d2": 2, "d11": 0}}


def write_beir(root: Path, docs=TINY_DOCS, queries=TINY_QUERIES, qrels=TINY_QRELS, split="test") -> Path:
    """Write a BEIR-layout dataset under ``root``."""
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as out:
        for doc_id, title, text in docs:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as out:
        for query_id, text in queries.items():
            out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, docs in qrels.items() for d, g in docs.items()]
    (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tiny dataset as an lsr Dataset."""
    from lsr.data import load_dataset

    return load_dataset(str(write_beir(tmp_path_factory.mktemp("data") / "tiny")))


def _build(tmp_path_factory, tiny, **settings):
    from lsr.index.build import build_index
    from lsr.index.recipe import IndexRecipe

    recipe = IndexRecipe(**settings)
    output = tmp_path_factory.mktemp("indexes") / recipe.name
    build_index(recipe, tiny, output, threads=1, keep_vectors=True, progress=False)
    return output


@pytest.fixture(scope="session")
def bm25_index(tmp_path_factory, tiny):
    return _build(tmp_path_factory, tiny, name="bm25")


@pytest.fixture(scope="session")
def if_index(tmp_path_factory, tiny):
    return _build(tmp_path_factory, tiny, name="inference-free", encoder="splade-tiny", query_encoder="idf")


@pytest.fixture(scope="session")
def channel_index(tmp_path_factory, tiny):
    """The inference-free index with lsr's BM25 channel (lexical_weight 4), as lsr's default recipe has it."""
    return _build(tmp_path_factory, tiny, name="inference-free-bm25", encoder="splade-tiny", query_encoder="idf", lexical_weight=4.0)


@pytest.fixture(scope="session")
def splade_index(tmp_path_factory, tiny):
    return _build(tmp_path_factory, tiny, name="splade-tiny", encoder="splade-tiny", query_encoder="model")


def build_dense(tmp_path_factory, dataset, **settings):
    """A dense (MiniLM) index of ``dataset`` in a fresh temporary folder."""
    from lsr.index.dense import build_dense_index
    from lsr.index.recipe import DenseRecipe

    recipe = DenseRecipe(**{"name": "minilm", **settings})
    output = tmp_path_factory.mktemp("indexes") / recipe.name
    build_dense_index(recipe, dataset, output, threads=1, progress=False)
    return output


@pytest.fixture(scope="session")
def dense_index(tmp_path_factory, tiny):
    return build_dense(tmp_path_factory, tiny)


# hypothesis (tests/test_properties.py): the same examples on every run and machine; HYPOTHESIS_PROFILE=deep for a wider search
settings.register_profile("lsr", derandomize=True, deadline=None, max_examples=150, database=None)
settings.register_profile("deep", deadline=None, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lsr"))
