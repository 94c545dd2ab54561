"""lsr adapt: pseudo-queries from a corpus alone, then a short fine-tuning and an index of the corpus."""

import json
from dataclasses import replace

import numpy as np
import pytest

from lsr.data import Document, load_dataset
from lsr.errors import LsrError
from lsr.index.manifest import read_manifest
from lsr.index.recipe import IndexRecipe
from lsr.training.adapt import MIN_DOCUMENTS, pseudo_queries, write_pseudo_dataset
from lsr.training.recipe import TrainRecipe
from tests.conftest import TINY_DOCS, write_beir

TOPICS = ["aspirin", "statins", "insulin", "vaccines", "coffee", "sleep", "smoking", "exercise", "antibiotics", "vitamin D",
          "obesity", "fractures", "measles", "cholesterol", "diabetes", "asthma", "malaria", "hepatitis", "anemia", "migraine"]
MORE_DOCS = [(f"m{i}", f"Effects of {t} in adults", f"A trial of {t} in {20 + i} adults. The effect of {t} on outcomes was "
              f"measured over {i + 1} years. Patients taking {t} reported fewer symptoms.") for i, t in enumerate(TOPICS)]


def test_pseudo_queries_are_titles_or_sentence_spans_cut_from_their_documents():
    docs = [Document("a", "Aspirin lowers colorectal cancer risk", "Some text."), Document("b", "", "Short. A sentence with enough words here."),
            Document("c", "x", ""), Document("d", "", "no"), Document("e", "", "One sentence of enough words only.")]
    queries = pseudo_queries(docs, max_queries=10, seed=0)
    by_doc = {context.id: (text, context) for text, context in queries.values()}
    assert by_doc["a"] == ("Aspirin lowers colorectal cancer risk", Document("a", "", "Some text."))  # the title, cut from its document
    text, context = by_doc["b"]
    assert set(text.split()) <= set("A sentence with enough words here.".split()) and len(text.split()) >= 3
    assert context == Document("b", "", "Short.")  # the query's sentence is gone: only its context is left to find
    assert set(by_doc) == {"a", "b"}  # c, d: nothing of 3+ words; e: nothing left once its only sentence is the query
    assert len(pseudo_queries(docs, max_queries=1, seed=0)) == 1
    assert pseudo_queries(docs, 10, seed=0) == queries  # seeded


def test_too_small_or_empty_corpora_are_clear_errors(tmp_path):
    small = load_dataset(str(write_beir(tmp_path / "small")))
    with pytest.raises(LsrError, match=f"adapting needs at least {MIN_DOCUMENTS}"):
        write_pseudo_dataset(small, tmp_path / "pq", 100, seed=0)
    untitled = [(f"u{i}", "", "no") for i in range(MIN_DOCUMENTS + 5)]
    with pytest.raises(LsrError, match="only 0 pseudo-queries"):
        write_pseudo_dataset(load_dataset(str(write_beir(tmp_path / "untitled", docs=untitled))), tmp_path / "pq2", 100, seed=0)


def test_the_pseudo_dataset_holds_each_query_with_its_context_and_the_rest_of_the_corpus(tmp_path):
    corpus = load_dataset(str(write_beir(tmp_path / "corpus", docs=TINY_DOCS + MORE_DOCS)))
    pseudo = write_pseudo_dataset(corpus, tmp_path / "pq", max_queries=MIN_DOCUMENTS, seed=0)
    docs = {d.id: d for d in pseudo.corpus()}
    assert set(docs) == {d.id for d in corpus.corpus() if d.contents}  # empty documents have nothing to learn from
    queries, qrels = pseudo.queries("train"), pseudo.qrels("train")
    assert len(queries) == MIN_DOCUMENTS
    for query_id, text in queries.items():
        (source,) = qrels[query_id]
        assert text not in docs[source].contents and docs[source].contents  # found by its context, not by itself
    untouched = set(docs) - {d for judged in qrels.values() for d in judged}
    original = {d.id: d for d in corpus.corpus()}
    assert untouched and all(docs[d] == original[d] for d in untouched)


def test_adapt_end_to_end_on_a_small_corpus(tmp_path):
    """A few steps: the loss falls, the model reloads, the corpus is indexed with it and searched; a second run resumes."""
    from sentence_transformers import SparseEncoder

    from lsr import Searcher
    from lsr.training.adapt import adapt

    corpus = load_dataset(str(write_beir(tmp_path / "corpus", docs=TINY_DOCS + MORE_DOCS)))
    # the dense teacher is the one the SPLADE-tiny student disagrees with at the start: its loss is there to lower
    recipe = TrainRecipe(name="adapt", teachers=["dense:all-MiniLM-L6-v2", "bm25"], candidates_k=10, negatives=2, rows_per_query=6,
                         batch_size=2, learning_rate=2e-4, warmup_ratio=0.1, eval_every=3, validation_fraction=0.2, doc_max_length=48,
                         lexical_weight=0.5, max_steps=30)
    settings = IndexRecipe(name="settings", encoder="splade-tiny", query_encoder="idf", doc_top_k=20, two_phase=[0.5, 2.0])
    summary = adapt(corpus, recipe, tmp_path / "out", max_queries=25, progress=False, index_recipe=settings)
    log = json.loads((tmp_path / "out" / "adapt" / "corpus" / "model" / "training_log.json").read_text())
    base = [e["base_loss"] for e in log["log"] if "base_loss" in e]
    third = len(base) // 3
    assert third >= 3 and np.mean(base[-third:]) < np.mean(base[:third]), base
    assert MIN_DOCUMENTS <= summary["queries"] <= 25 and summary["steps"] == 30  # one-sentence documents make no query
    SparseEncoder(summary["model"], device="cpu")
    manifest = read_manifest(summary["index"])
    assert manifest["query"]["defaults"] == {"two_phase": [0.5, 2.0]} and manifest["query"]["lexical"]["weight"] == 0.5  # settings; the W of recipe
    with Searcher.open(summary["index"]) as searcher:
        assert searcher.search("aspirin colorectal cancer", k=3)[0].docid == "d1"
    assert adapt(corpus, recipe, tmp_path / "out", max_queries=25, progress=False, index_recipe=settings) == summary  # done: nothing runs again
    with pytest.raises(LsrError, match=r"was adapted with other settings \(max_steps 30 -> 40\)"):  # neither reused nor replaced
        adapt(corpus, replace(recipe, max_steps=40), tmp_path / "out", max_queries=25, progress=False, index_recipe=settings)
    assert json.loads((tmp_path / "out" / "adapt" / "corpus" / "model" / "training_log.json").read_text()) == log
    with pytest.raises(LsrError, match=r"adapted from another corpus or with other settings \(max_queries 25 -> 24\)"):
        adapt(corpus, recipe, tmp_path / "out", max_queries=24, progress=False, index_recipe=settings)
    with open(corpus.corpus_path, "a", encoding="utf-8") as out:  # a document added since: the model knows the old corpus only
        out.write(json.dumps({"_id": "new", "title": "", "text": "A document added after the adaptation."}) + "\n")
    with pytest.raises(LsrError, match=r"adapted from another corpus or with other settings \(corpus_sha256 "):
        adapt(load_dataset(str(corpus.root)), recipe, tmp_path / "out", max_queries=25, progress=False, index_recipe=settings)
