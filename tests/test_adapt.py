"""lsr adapt: pseudo-queries from a corpus alone, then a short fine-tuning and an index of the corpus."""

import json

import numpy as np
import pytest

from lsr.errors import LsrError
from lsr.eval.beir import Document, load_dataset
from lsr.training.adapt import MIN_DOCUMENTS, pseudo_queries, write_pseudo_dataset
from lsr.training.recipe import TrainRecipe
from tests.conftest import TINY_DOCS, write_beir

TOPICS = ["aspirin", "statins", "insulin", "vaccines", "coffee", "sleep", "smoking", "exercise", "antibiotics", "vitamin D",
          "obesity", "fractures", "measles", "cholesterol", "diabetes", "asthma", "malaria", "hepatitis", "anemia", "migraine"]
MORE_DOCS = [(f"m{i}", f"Effects of {t} in adults", f"A trial of {t} in {20 + i} adults. The effect of {t} on outcomes was "
              f"measured over {i + 1} years. Patients taking {t} reported fewer symptoms.") for i, t in enumerate(TOPICS)]


def test_pseudo_queries_are_titles_or_sentence_spans():
    docs = [Document("a", "Aspirin lowers colorectal cancer risk", "Some text."), Document("b", "", "Short. A sentence with enough words here."),
            Document("c", "x", ""), Document("d", "", "no")]
    queries = pseudo_queries(docs, max_queries=10, seed=0)
    by_doc = {d: text for text, d in queries.values()}
    assert by_doc["a"] == "Aspirin lowers colorectal cancer risk"  # a title with text beside it
    assert set(by_doc["b"].split()) <= set("A sentence with enough words here.".split()) and len(by_doc["b"].split()) >= 3
    assert "c" not in by_doc and "d" not in by_doc  # nothing of 3+ words to make a query from
    assert len(pseudo_queries(docs, max_queries=1, seed=0)) == 1
    assert pseudo_queries(docs, 10, seed=0) == queries  # seeded


def test_too_small_or_empty_corpora_are_clear_errors(tmp_path):
    small = load_dataset(str(write_beir(tmp_path / "small")))
    with pytest.raises(LsrError, match=f"adapting needs at least {MIN_DOCUMENTS}"):
        write_pseudo_dataset(small, tmp_path / "pq", 100, seed=0)
    untitled = [(f"u{i}", "", "no") for i in range(MIN_DOCUMENTS + 5)]
    with pytest.raises(LsrError, match="only 0 pseudo-queries"):
        write_pseudo_dataset(load_dataset(str(write_beir(tmp_path / "untitled", docs=untitled))), tmp_path / "pq2", 100, seed=0)


def test_adapt_end_to_end_on_a_small_corpus(tmp_path):
    """A few steps: the loss falls, the model reloads, the corpus is indexed with it and searched; a second run resumes."""
    from sentence_transformers import SparseEncoder

    from lsr import Searcher
    from lsr.training.adapt import adapt

    corpus = load_dataset(str(write_beir(tmp_path / "corpus", docs=TINY_DOCS + MORE_DOCS)))
    recipe = TrainRecipe(name="adapt", teachers=["sparse:splade-tiny", "bm25"], candidates_k=10, negatives=2, rows_per_query=6,
                         batch_size=2, learning_rate=5e-4, warmup_ratio=0.1, eval_every=3, validation_fraction=0.2, doc_max_length=48,
                         lexical_weight=0.5, max_steps=30)
    summary = adapt(corpus, recipe, tmp_path / "out", max_queries=25, progress=False)
    log = json.loads((tmp_path / "out" / "adapt" / "corpus" / "model" / "training_log.json").read_text())
    base = [e["base_loss"] for e in log["log"] if "base_loss" in e]
    third = len(base) // 3
    assert third >= 3 and np.mean(base[-third:]) < np.mean(base[:third]), base
    assert summary["queries"] == 25 and summary["steps"] == 30
    SparseEncoder(summary["model"], device="cpu")
    with Searcher.open(summary["index"]) as searcher:
        assert searcher.search("aspirin colorectal cancer", k=3)[0].docid == "d1"
    assert adapt(corpus, recipe, tmp_path / "out", max_queries=25, progress=False) == summary  # done: nothing runs again
