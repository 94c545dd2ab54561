"""Dense training (``student: dense``) on the tiny corpus: a few steps lower the loss, the model reloads identically."""

import json

import numpy as np
import pytest

from lsr.errors import LsrError
from lsr.training.recipe import DenseTrainRecipe, load_training_recipe


@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    from tests.conftest import write_beir

    root = tmp_path_factory.mktemp("data") / "tinytrain"
    write_beir(root, split="train")
    (root.parent / "minilm.yaml").write_text("kind: dense\nname: minilm\n")
    return root


def recipe(root, **settings):
    return DenseTrainRecipe(**{"name": "tiny", "dataset": str(root), "document_index": str(root.parent / "minilm.yaml"), "candidates_k": 10,
                               "validation_fraction": 0.2, "batch_size": 4, "learning_rate": 1e-4, "warmup_ratio": 0.0, **settings})


def test_query_tuning_lowers_the_loss_and_reloads_identically(tiny_train, tmp_path):
    from sentence_transformers import SentenceTransformer

    from lsr.data import load_dataset
    from lsr.encoders.names import resolve_model
    from lsr.training.dense import backbone_vectors, full_ndcg, query_rows, rows_loss, train_dense
    from lsr.training.losses import CorpusSoftmaxLoss
    from lsr.training.train import bm25_candidates, split_queries

    settings = recipe(tiny_train, epochs=8, max_length=64, scale=1.0)  # scale 1: the tiny corpus is not already solved
    out = tmp_path / "out"
    summary = train_dense(settings, tmp_path / "model", out_dir=out, progress=False, validate_base=True)
    dataset = load_dataset(str(tiny_train))
    qrels = dataset.qrels("train")
    candidates = bm25_candidates(dataset, "train", 10, out, progress=False)
    train_ids, val_ids = split_queries(list(candidates.lists), 0.2, 42)
    assert summary["train_queries"] == train_ids and summary["validation_queries"] == val_ids and len(val_ids) == 1
    documents, doc_ids = backbone_vectors(settings, dataset, out, 1, False)
    rows = query_rows(candidates, qrels, train_ids, {d: i for i, d in enumerate(doc_ids)}, 42)
    assert len(rows) == 4 and summary["steps"] == 8  # one row per (train query, positive); 1 batch x 8 epochs

    def loss_of(model):
        return rows_loss(CorpusSoftmaxLoss(model, documents, 1.0), rows)

    base = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    trained = SentenceTransformer(str(tmp_path / "model"), device="cpu")
    assert loss_of(trained) < loss_of(base) - 0.01
    info = json.loads((tmp_path / "model" / "lsr_training.json").read_text())
    assert info["dataset"] == "tinytrain" and info["split"] == "train" and len(info["validation"]["history"]) == 9  # base + 8 epochs
    held_out = {q: candidates.queries[q] for q in val_ids}
    assert full_ndcg(trained, held_out, qrels, documents, doc_ids) == summary["validation"]["trained"]  # reloads identically
    # a second run of the recipe gives the same model (fixed seeds)
    train_dense(settings, tmp_path / "again", out_dir=out, progress=False)
    again = SentenceTransformer(str(tmp_path / "again"), device="cpu")
    np.testing.assert_allclose(again.encode(["aspirin"]), trained.encode(["aspirin"]), atol=1e-6)


def test_whole_model_tuning_lowers_the_loss(tiny_train, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from lsr.data import load_dataset
    from lsr.encoders.names import resolve_model
    from lsr.training.dense import dense_rows, rows_loss, train_dense
    from lsr.training.train import bm25_candidates, split_queries

    settings = recipe(tiny_train, tune="both", epochs=6, max_length=48, negative_depth=3, validation_depth=3, scale=1.0)
    out = tmp_path / "out"
    summary = train_dense(settings, tmp_path / "model", out_dir=out, progress=False)
    dataset = load_dataset(str(tiny_train))
    candidates = bm25_candidates(dataset, "train", 10, out, progress=False)
    train_ids, _ = split_queries(list(candidates.lists), 0.2, 42)
    rows = dense_rows(settings, candidates, dataset.qrels("train"), train_ids)
    qrels = dataset.qrels("train")
    usable = [q for q in train_ids if any(qrels[q].get(d, 0) > 0 for d in candidates.lists[q])
              and any(qrels[q].get(d, 0) <= 0 for d in candidates.lists[q])]
    assert rows.column_names == ["anchor", "positive", "negative_1"] and len(rows) == 6 * len(usable) == summary["rows"] > 0
    base = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    trained = SentenceTransformer(str(tmp_path / "model"), device="cpu")
    def loss(model):
        return rows_loss(MultipleNegativesRankingLoss(model, scale=1.0), rows, 4)

    assert loss(trained) < loss(base) - 0.01


def test_a_static_query_encoder_is_distilled_from_the_corpus_then_tuned_and_runs_no_transformer(tiny_train, tmp_path, monkeypatch):
    """tune: static -- the regression onto MiniLM's vectors of the corpus texts lowers their error against the bare token
    vectors, query tuning then lowers the corpus-softmax loss, and the saved model is a StaticEmbedding that reloads identically."""
    import copy

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    import lsr.training.static as static
    from lsr.data import load_dataset
    from lsr.encoders.dense import encode
    from lsr.encoders.names import resolve_model
    from lsr.training.dense import backbone_vectors, full_ndcg, query_rows, rows_loss, train_dense
    from lsr.training.losses import CorpusSoftmaxLoss
    from lsr.training.train import bm25_candidates, split_queries

    made, tokens, distilled = {}, static.token_vectors, static.static_encoder

    def keep_tokens(*args, **kwargs):
        made["tokens"] = (vectors := tokens(*args, **kwargs)).copy()  # the model trains the array it is given in place
        return vectors

    def keep(*args, **kwargs):
        made["regressed"] = copy.deepcopy(model := distilled(*args, **kwargs))
        return model

    monkeypatch.setattr(static, "token_vectors", keep_tokens)
    monkeypatch.setattr(static, "static_encoder", keep)
    settings = recipe(tiny_train, tune="static", static_texts=40, static_epochs=20, static_learning_rate=0.01, epochs=8,
                      learning_rate=0.01, scale=1.0)
    out = tmp_path / "out"
    summary = train_dense(settings, tmp_path / "model", out_dir=out, progress=False)
    trained = SentenceTransformer(str(tmp_path / "model"), device="cpu")
    assert [type(m) for m in trained] == [StaticEmbedding, Normalize]

    dataset = load_dataset(str(tiny_train))
    backbone = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    texts = static.corpus_texts(dataset, 40, 42)
    assert 5 < len(texts) < 40 and "Aspirin and colorectal cancer" in texts and "Vitamin D" not in texts  # 4+ words
    target = encode(backbone, texts, "document")
    bare = SentenceTransformer(modules=[StaticEmbedding(backbone.tokenizer, embedding_weights=made["tokens"]), Normalize()], device="cpu")
    def error(model):
        return float(np.mean((encode(model, texts, "query") - target) ** 2))

    assert error(made["regressed"]) < error(bare) * 0.8

    qrels = dataset.qrels("train")
    candidates = bm25_candidates(dataset, "train", 10, out, progress=False)
    train_ids, val_ids = split_queries(list(candidates.lists), 0.2, 42)
    documents, doc_ids = backbone_vectors(settings, dataset, out, 1, False)
    rows = query_rows(candidates, qrels, train_ids, {d: i for i, d in enumerate(doc_ids)}, 42)
    def loss_of(model):
        return rows_loss(CorpusSoftmaxLoss(model, documents, 1.0), rows)

    assert loss_of(trained) < loss_of(made["regressed"]) - 0.01
    held_out = {q: candidates.queries[q] for q in val_ids}
    assert full_ndcg(trained, held_out, qrels, documents, doc_ids) == summary["validation"]["trained"]  # reloads identically
    # searching runs it without torch, to the same vectors
    from lsr.encoders.dense import StaticQueryEncoder

    assert StaticQueryEncoder.fits(trained) and not StaticQueryEncoder.fits(backbone)
    queries = list(dataset.queries("train").values()) + ["", "?"]
    np.testing.assert_allclose(StaticQueryEncoder(trained).encode(queries), encode(trained, queries, "query"), atol=1e-6)


def test_dense_recipes_load_and_are_checked(tmp_path):
    path = tmp_path / "training" / "d.yaml"
    path.parent.mkdir()
    path.write_text("student: dense\nepochs: 2\nlearning_rate: 1.0e-4\n")
    loaded = load_training_recipe(path, batch_size=8)
    assert isinstance(loaded, DenseTrainRecipe) and loaded.name == "d" and loaded.batch_size == 8 and loaded.learning_rate == 1e-4
    with pytest.raises(LsrError, match=f"^{path}: recipe 'd': batch_size must be an integer >= 1, got '8' \\(a string"):
        load_training_recipe(path, batch_size="8")
    assert loaded.document_index == str(tmp_path / "indexing" / "minilm.yaml")  # relative to the recipe's folder
    path.write_text("student: dense\nnegatives: 7\n")
    with pytest.raises(LsrError, match="unknown setting"):
        load_training_recipe(path)
    with pytest.raises(LsrError, match="tune must be query .*, both or static"):
        DenseTrainRecipe(name="x", tune="docs")
    with pytest.raises(LsrError, match="batch_size must be at least 2"):
        DenseTrainRecipe(name="x", batch_size=1)


def test_query_tuning_needs_the_backbones_document_vectors(tiny_train, tmp_path):
    from lsr.data import load_dataset
    from lsr.training.dense import backbone_vectors

    (tmp_path / "other.yaml").write_text("kind: dense\nname: other\nencoder: splade-tiny\n")
    with pytest.raises(LsrError, match="not the backbone"):
        backbone_vectors(recipe(tiny_train, document_index=str(tmp_path / "other.yaml")), load_dataset(str(tiny_train)), tmp_path, 1, False)


@pytest.mark.parametrize("tune", ["query", "static"])
@pytest.mark.parametrize("index, expected", [
    ("missing.yaml", "cannot read recipe .*missing.yaml: No such file or directory"),
    ("bm25.yaml", "document_index .*bm25.yaml: a bm25 recipe, not a dense one"),
    ("splade.yaml", "encodes documents with 'splade-tiny', not the backbone 'all-MiniLM-L6-v2'"),
])
def test_a_bad_document_index_is_refused_before_any_work(tiny_train, tmp_path, monkeypatch, tune, index, expected):
    import lsr.training.dense as dense

    (tmp_path / "bm25.yaml").write_text("name: bm25\n")
    (tmp_path / "splade.yaml").write_text("kind: dense\nname: splade\nencoder: splade-tiny\n")
    monkeypatch.setattr(dense, "bm25_candidates", lambda *a, **k: pytest.fail("work started before the document index was checked"))
    with pytest.raises(LsrError, match=expected):
        dense.train_dense(recipe(tiny_train, tune=tune, document_index=str(tmp_path / index)), tmp_path / "model", out_dir=tmp_path, threads=1,
                          progress=False)
