"""End to end on the real BEIR SciFact (../shared/datasets/scifact): BM25 reproduces Pyserini."""

import pytest

from lsr.config import data_root
from lsr.data import load_dataset
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


@pytest.fixture(scope="module")
def inference_free(scifact, tmp_path_factory):
    """SciFact's zero-shot inference-free index (vectors kept for exact retrieval)."""
    index = tmp_path_factory.mktemp("scifact") / "inference-free"
    build_index(IndexRecipe.load("indexing/inference-free.yaml"), scifact, index, keep_vectors=True, progress=False)
    return index


def test_inference_free_lucene_equals_exact_retrieval(scifact, inference_free):
    """Zero-shot inference-free through Lucene scores as scipy does over the same vectors (and near the published .654)."""
    index = inference_free
    qrels = scifact.qrels("test")
    lucene, _ = run_system(index, scifact.queries("test"), k=100, threads=2, progress=False)
    exact, _ = run_system(index, scifact.queries("test"), k=100, threads=1, progress=False, exact=True)
    lucene_scores = evaluate(lucene, qrels, ignore_identical_ids=True)
    exact_scores = evaluate(exact, qrels, ignore_identical_ids=True)
    assert lucene_scores["nDCG@10"] == pytest.approx(exact_scores["nDCG@10"], abs=0.002)
    assert lucene_scores["nDCG@10"] == pytest.approx(0.654, abs=0.01)


TRICKY = [
    "hello [MASK] world[SEP]x", "Café naïve ÉCOLE", "北京大学 is 好", "a\u0000b\ufffdc\u200bd\x0be", "ΣΟΦΊΑ σοφός", "İstanbul ﬁne",
    "x" * 101 + " y", "$5+3=8 <a|b> ~^`", "", "   ", "tab\tnew\nline\u00a0nb\u3000ideo", "e\u0301 \U0001F600 emoji",
    "unaffable runs’ “quoted” — dash", "ǅ ǈ ß ẞ", "IL-6/STAT3 (p<0.05) α-synuclein β2-microglobulin",
]


def test_java_wordpiece_tokenizes_as_hugging_face(scifact):
    """lsr's Java WordPiece gives Hugging Face's tokens for every SciFact query and document and some odd strings."""
    from lsr.encoders.names import resolve_model
    from lsr.encoders.table import load_tokenizer
    from lsr.search.lucene import wordpiece

    tokenizer = load_tokenizer(resolve_model("splade-tiny"))
    java = wordpiece(tokenizer.to_str())
    texts = [*scifact.queries("train").values(), *scifact.queries("test").values(), *(d.contents for d in scifact.corpus()), *TRICKY]
    mismatches = [t for t in texts if list(java.tokens(t)) != tokenizer.encode(t, add_special_tokens=False).tokens]
    assert mismatches == []
    assert list(java.tokens("ok [MASK] Café")) == ["ok", "[MASK]", "cafe"]


@pytest.mark.parametrize("top_k, min_ratio", [(None, 0.0), (None, 0.15), (8, 0.3)])
def test_java_inference_free_queries_equal_the_python_path(scifact, inference_free, top_k, min_ratio):
    """Searches built in Java (tokens, weights, rounding, pruning) send Lucene the terms and weights lsr's Python sends."""
    from lsr import Searcher

    queries = [*scifact.queries("train").values(), *scifact.queries("test").values(), *TRICKY]
    with Searcher.open(inference_free, query_top_k=top_k, query_min_ratio=min_ratio) as searcher:
        java = searcher._text_queries
        for query in queries:
            weighted = java.encode(query)
            assert list(zip(weighted.terms, weighted.weights)) == list(searcher.quantised(query).items()), query
        for query in queries[:50]:
            prepared = searcher._prepare(query)
            python = searcher._lucene.search(prepared, 10) if prepared is not None else []
            assert [tuple(hit) for hit in searcher.search(query, 10)] == python, query
