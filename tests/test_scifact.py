"""End to end on the real BEIR SciFact (../shared/datasets/scifact): BM25 reproduces Pyserini."""

import pytest

from lsr.eval.beir import data_root, load_dataset
from lsr.eval.evaluate import run_system
from lsr.eval.metrics import evaluate
from lsr.index.build import build_index
from lsr.index.recipe import IndexRecipe

pytestmark = pytest.mark.scifact


@pytest.fixture(scope="module")
def scifact():
    if not (data_root() / "scifact" / "corpus.jsonl").is_file():
        pytest.fail(f"SciFact is missing under {data_root()}: set LSR_DATA_DIR or run from a checkout beside ../shared")
    return load_dataset("scifact")


def test_scifact_counts(scifact):
    assert sum(1 for _ in scifact.corpus()) == 5183
    assert len(scifact.queries("test")) == 300 and len(scifact.queries("train")) == 809


def test_bm25_matches_pyserini(scifact, tmp_path):
    """Pyserini's published BEIR flat BM25 on SciFact test: nDCG@10 0.6789."""
    index = tmp_path / "bm25"
    build_index(IndexRecipe.load("indexing/bm25.yaml"), scifact, index, progress=False)
    run, timings = run_system(index, scifact.queries("test"), k=1000, threads=2, progress=False)
    scores = evaluate(run, scifact.qrels("test"), ignore_identical_ids=True)
    assert scores["nDCG@10"] == pytest.approx(0.6789, abs=0.005)
    assert scores["R@100"] == pytest.approx(0.9253, abs=0.005)
    assert timings["batch_qps"] > 0


def test_inference_free_lucene_equals_exact_retrieval(scifact, tmp_path):
    """Zero-shot inference-free through Lucene scores as scipy does over the same vectors (and near the published .654)."""
    index = tmp_path / "inference-free"
    build_index(IndexRecipe.load("indexing/inference-free.yaml"), scifact, index, keep_vectors=True, progress=False)
    qrels = scifact.qrels("test")
    lucene, _ = run_system(index, scifact.queries("test"), k=100, threads=2, progress=False)
    exact, _ = run_system(index, scifact.queries("test"), k=100, threads=1, progress=False, exact=True)
    lucene_scores = evaluate(lucene, qrels, ignore_identical_ids=True)
    exact_scores = evaluate(exact, qrels, ignore_identical_ids=True)
    assert lucene_scores["nDCG@10"] == pytest.approx(exact_scores["nDCG@10"], abs=0.002)
    assert lucene_scores["nDCG@10"] == pytest.approx(0.654, abs=0.01)
