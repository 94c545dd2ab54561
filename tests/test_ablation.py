"""The ablation command: recipe parsing, sparsity statistics, and a tiny end-to-end ablation."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

from lsr.errors import LsrError
from lsr.search.exact import ExactSearcher
from lsr.training.ablation import AblationRecipe, markdown, plot_learning_curves, run_ablation, slug
from lsr.types import Hit

BASE = """name: tiny
dataset: {root}
teachers: [sparse:splade-tiny, bm25]
candidates_k: 10
negatives: 2
rows_per_query: 2
batch_size: 2
max_steps: 2
eval_every: 100
validation_fraction: 0.2
doc_max_length: 48
"""


class _Fixed:
    """A query encoder with fixed outputs."""

    def __init__(self, table):
        self.table = table

    def encode(self, query):
        return self.table[query]


def test_sparsity_hand_computed():
    """FLOPS = sum_j P(doc has j) * P(query has j); terms counted per document and per query."""
    matrix = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 3, 0]]))
    queries = _Fixed({"q1": {"x": 1.0}, "q2": {"x": 0.5, "y": 2.0, "unseen": 1.0}})
    searcher = ExactSearcher(["a", "b"], matrix, {"x": 0, "y": 1, "z": 2}, queries, 10.0)
    stats = searcher.sparsity(["q1", "q2"])
    # doc activity [.5, .5, .5]; query activity [1, .5, 0] -> .5 + .25; "unseen" is no index term but is a query term
    assert stats == {"avg_doc_terms": 1.5, "avg_query_terms": 2.0, "flops": 0.75}


@pytest.mark.parametrize("query, k, message", [(None, 3, "a query must be a str, got NoneType"), (b"x", 3, "a query must be a str, got bytes"),
                                               ("q1", 2.5, "k must be at least 1 and a whole number, got 2.5"), ("q1", 0, "k must be at least 1")])
def test_exact_search_refuses_arguments_of_the_wrong_type(query, k, message):
    """The exact searcher (lsr evaluate --exact, evaluate-model) checks its arguments as the Lucene searchers do."""
    searcher = ExactSearcher(["a", "b"], sp.csr_matrix(np.array([[1.0, 0, 2], [0, 3, 0]])), {"x": 0, "y": 1, "z": 2},
                             _Fixed({"q1": {"x": 1.0}}), 10.0)
    assert searcher.search("q1", 1) == [Hit("a", 10.0)]
    with pytest.raises(LsrError, match=re.escape(message)):
        searcher.search(query, k)


def test_ablation_recipe_errors(tmp_path):
    """Missing base or variants, unknown keys, bad variant settings and unknown variant names are clear errors."""
    base = tmp_path / "base.yaml"
    base.write_text(BASE.format(root="scifact"), encoding="utf-8")
    cases = {
        "variants: {a: {}}\n": "needs `base`",
        f"base: {base}\n": "needs `base`",
        f"base: {base}\nvariants: {{a: {{}}}}\ntypo: 1\n": "typo",
        f"base: {base}\nvariants: {{a: {{regularizer: l2}}}}\n": "regularizer must be one of",
        f"base: {base}\nvariants: {{a: {{no_such_setting: 1}}}}\n": "no_such_setting",
    }
    for text, message in cases.items():
        path = tmp_path / "ablation.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises((LsrError, TypeError), match=message):
            AblationRecipe.load(path)
    path.write_text(f"base: {base}\nset: {{epochs: 3}}\nvariants: {{'plain FLOPS': {{regularizer: flops}}}}\n", encoding="utf-8")
    ablation = AblationRecipe.load(path)
    recipe = ablation.training_recipe("plain FLOPS", learning_rate=1e-3)
    assert (recipe.regularizer, recipe.epochs, recipe.learning_rate, recipe.name) == ("flops", 3.0, 1e-3, "tiny-ablation-plain-flops")
    with pytest.raises(LsrError, match="no variant 'nope'"):
        ablation.training_recipe("nope")
    assert slug("l0 mask (150 terms) + l0 activation") == "l0-mask-150-terms-l0-activation"


def test_tiny_ablation_end_to_end(tmp_path):
    """Two variants train, index in Lucene and evaluate; BM25-as-teacher equals BM25 search; reruns reuse the models."""
    from lsr import Searcher
    from lsr.data import load_dataset
    from lsr.eval.evaluate import ensure_index
    from lsr.eval.metrics import evaluate
    from lsr.index.recipe import IndexRecipe
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "tinyab", split="train")
    write_beir(root, split="test")
    base = tmp_path / "base.yaml"
    base.write_text(BASE.format(root=root), encoding="utf-8")
    path = tmp_path / "ablation.yaml"
    path.write_text(f"base: {base}\nvariants:\n  default: {{}}\n  plain FLOPS: {{regularizer: flops}}\n", encoding="utf-8")
    out = tmp_path / "out"
    rows = run_ablation(AblationRecipe.load(path), out_dir=out, progress=False)
    names = [r["variant"] for r in rows]
    assert names[-2:] == ["default", "plain FLOPS"] and len(rows) == 2 + 4  # zero-shot, 2 teachers, ensemble
    assert names[0] == "reference: splade-tiny zero-shot (inference-free)"
    assert (out / "models" / "ablation" / "zero-shot-splade-tiny" / "modules.json").is_file()  # the model the label names
    for row in rows:
        assert 0 <= row["nDCG@10"] <= 1 and 0 <= row["R@100"] <= 1
    for row in rows[-2:] + rows[:1]:
        assert row["flops"] > 0 and row["avg_doc_terms"] > 0 and row["index_mb"] >= 0
    dataset = load_dataset(str(root))
    with Searcher.open(ensure_index(IndexRecipe(name="bm25"), dataset, out, 1, False)) as bm25:
        run = {q: {h.docid: h.score for h in bm25.search(text, 10)} for q, text in dataset.queries("test").items()}
    bm25_row = next(r for r in rows if r["variant"].startswith("reference: teacher bm25"))
    assert bm25_row["nDCG@10"] == round(evaluate(run, dataset.qrels("test"))["nDCG@10"], 4)
    logs = {p: p.stat().st_mtime_ns for p in (out / "models" / "ablation").glob("*/training_log.json")}
    assert len(logs) == 2
    again = run_ablation(AblationRecipe.load(path), only=["plain FLOPS"], out_dir=out, progress=False)
    assert again[-1] == rows[-1] and {p: p.stat().st_mtime_ns for p in logs} == logs
    assert "| plain FLOPS |" in markdown(rows, "tiny")
    plot_learning_curves(rows, out, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json.dumps(rows)) == rows
