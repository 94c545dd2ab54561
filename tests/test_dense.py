"""The dense side: MiniLM document vectors in faiss, checked against brute-force numpy."""

import json

import numpy as np
import pytest

from lsr import Searcher
from lsr.errors import LsrError
from lsr.index.manifest import read_manifest
from lsr.index.recipe import DenseRecipe, load_recipe
from lsr.search.dense import DenseSearcher
from tests.conftest import TINY_QUERIES, build_dense


@pytest.fixture(scope="module")
def reference(tiny):
    """Doc ids and vectors encoded here, independently of the index: the brute-force side."""
    from lsr.encoders.dense import encode, load_dense_encoder

    model = load_dense_encoder("all-MiniLM-L6-v2")
    docs = [d for d in tiny.corpus() if d.contents]
    return model, [d.id for d in docs], encode(model, [d.contents for d in docs], "document")


def brute_force(reference, query, k):
    from lsr.encoders.dense import encode

    model, ids, vectors = reference
    scores = vectors @ encode(model, [query], "query")[0]
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order], scores[order]


@pytest.mark.parametrize("k", [1, 3, 11, 50])
def test_flat_index_returns_the_brute_force_top_k(dense_index, reference, k):
    with Searcher.open(dense_index) as searcher:
        assert isinstance(searcher, DenseSearcher)
        for query in TINY_QUERIES.values():
            hits = searcher.search(query, k=k)
            ids, scores = brute_force(reference, query, k)
            assert [h.docid for h in hits] == ids
            np.testing.assert_allclose([h.score for h in hits], scores, atol=1e-5)


def test_hnsw_index_finds_the_same_top_k_on_a_small_corpus(tmp_path_factory, tiny, reference):
    index = build_dense(tmp_path_factory, tiny, name="minilm-hnsw", faiss_index="hnsw", hnsw_m=8)
    assert read_manifest(index)["faiss"]["index"] == "hnsw"
    with Searcher.open(index) as searcher:
        for query in TINY_QUERIES.values():
            assert [h.docid for h in searcher.search(query, k=5)] == brute_force(reference, query, 5)[0]


def test_index_holds_vectors_ids_and_manifest(dense_index, tiny, reference):
    manifest = read_manifest(dense_index)
    assert manifest["kind"] == "dense" and manifest["num_docs"] == 11 and manifest["skipped_empty"] == ["d9"]
    assert manifest["corpus"]["sha256"] == tiny.corpus_sha256 and manifest["faiss"]["dim"] == 384
    ids = json.loads((dense_index / "docids.json").read_text())
    vectors = np.load(dense_index / "vectors.npy")
    assert ids == reference[1] and vectors.dtype == np.float32 and vectors.shape == (11, 384)
    np.testing.assert_allclose(vectors, reference[2], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batch_search_equals_search_and_empty_queries_have_no_hits(dense_index):
    queries = list(TINY_QUERIES.values()) + ["", "   "]
    with Searcher.open(dense_index) as searcher:
        batch = searcher.batch_search(queries, k=4, threads=2)
        assert batch[-2:] == [[], []] and searcher.search("", k=3) == []
        for query, hits in zip(queries, batch):
            single = searcher.search(query, k=4)
            assert [h.docid for h in hits] == [h.docid for h in single]
            np.testing.assert_allclose([h.score for h in hits], [h.score for h in single], atol=1e-5)
        with pytest.raises(LsrError, match="k must be at least 1"):
            searcher.search("aspirin", k=0)


def test_stored_vectors_score_given_documents_as_the_search_does(dense_index):
    searcher = DenseSearcher(dense_index)
    vector = searcher.encode(["smoking and lung cancer"])[0]
    hits = searcher.search_vectors(vector[None, :], k=3)[0]
    assert [h.docid for h in searcher.score(vector, [h.docid for h in hits])] == [h.docid for h in hits]
    np.testing.assert_allclose([h.score for h in searcher.score(vector, [h.docid for h in hits])], [h.score for h in hits], atol=1e-5)
    with pytest.raises(LsrError, match="'nope' is not in the dense index"):
        searcher.score(vector, ["d1", "nope"])


def test_recipes_and_loading_errors(tmp_path):
    recipe = load_recipe("indexing/minilm.yaml")
    assert isinstance(recipe, DenseRecipe) and recipe.kind == "dense" and recipe.encoder == "all-MiniLM-L6-v2"
    path = tmp_path / "d.yaml"
    path.write_text("kind: dense\nfaiss_index: ivf\n")
    with pytest.raises(LsrError, match="faiss_index must be one of"):
        load_recipe(path)
    path.write_text("kind: dense\nencodr: x\n")
    with pytest.raises(LsrError, match="unknown setting\\(s\\) encodr"):
        load_recipe(path)
    path.write_text("kind: semantic\n")
    with pytest.raises(LsrError, match="kind must be sparse"):
        load_recipe(path)
    from lsr.encoders.dense import load_dense_encoder

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(LsrError, match="cannot load dense encoder"):
        load_dense_encoder(str(tmp_path / "model"))


def test_fingerprint_ignores_search_time_settings():
    assert DenseRecipe("a").fingerprint() == DenseRecipe("b", ef_search=999).fingerprint()
    assert DenseRecipe("a").fingerprint() != DenseRecipe("a", max_length=128).fingerprint()
