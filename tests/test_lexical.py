"""The BM25 channel of an impact index: Anserini's analysis, BM25 impacts, and one search scoring weight x BM25 + learned."""

import math

import pytest

from lsr.encoders.lexical import PREFIX, Analyzer, LexicalChannel, LexicalQueryEncoder
from lsr.errors import LsrError
from lsr.index.recipe import IndexRecipe
from tests.conftest import TINY_QUERIES, _build


def test_analyzer_is_anserinis_english_analysis():
    """Lowercased, stopwords out, Porter-stemmed: what Anserini's BM25 indexes hold."""
    assert Analyzer().terms("The processes of Computing, in IBM computers") == ["process", "comput", "ibm", "comput"]
    assert Analyzer().terms("") == []


def test_document_impacts_and_idf_follow_bm25():
    texts = ["cancer cancer risk", "heart disease", "lung cancer risk factors in smokers"]
    channel = LexicalChannel(texts, k1=0.9, b=0.4, weight=2.0, progress=False)
    lengths = [3, 2, 5]  # "in" is a stopword
    avgdl = sum(lengths) / 3
    doc = channel.document(0)
    assert set(doc) == {PREFIX + "cancer", PREFIX + "risk"}
    norm = 0.9 * (1 - 0.4 + 0.4 * lengths[0] / avgdl)
    assert doc[PREFIX + "cancer"] == pytest.approx(2.0 * 2 / (2 + norm))
    assert doc[PREFIX + "risk"] == pytest.approx(2.0 * 1 / (1 + norm))
    idf = channel.idf_table()
    assert idf["cancer"] == pytest.approx(math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)))
    assert idf["heart"] > idf["cancer"] > 0 and "in" not in idf


def test_query_side_adds_count_times_idf_to_the_wrapped_encoder():
    class Fixed:
        def encode(self, query):
            return {"cancer": 1.5}

    encoder = LexicalQueryEncoder(Fixed(), {"cancer": 2.0, "risk": 0.5})
    assert encoder.encode("Cancer cancer risk unknown") == {"cancer": 1.5, PREFIX + "cancer": 4.0, PREFIX + "risk": 0.5}


@pytest.fixture(scope="module")
def channel_index(tmp_path_factory, tiny):
    return _build(tmp_path_factory, tiny, name="if-bm25", encoder="splade-tiny", query_encoder="idf", lexical_weight=1.0)


def test_one_search_scores_bm25_plus_the_learned_model(channel_index, if_index, bm25_index):
    """Each hit's score is the plain inference-free score plus 10^4 x Lucene's BM25 (impacts and query weights
    are both x100), up to rounding and Lucene's one-byte document lengths."""
    from lsr import Searcher

    with Searcher.open(channel_index) as both, Searcher.open(if_index) as learned, Searcher.open(bm25_index) as bm25:
        for query in TINY_QUERIES.values():
            learned_scores = {h.docid: h.score for h in learned.search(query, k=12)}
            bm25_scores = {h.docid: h.score for h in bm25.search(query, k=12)}
            hits = both.search(query, k=12)
            assert hits and {h.docid for h in hits} == set(learned_scores) | set(bm25_scores)
            for hit in hits:
                expected = learned_scores.get(hit.docid, 0.0) + 1e4 * bm25_scores.get(hit.docid, 0.0)
                assert hit.score == pytest.approx(expected, rel=0.03), (query, hit.docid)


def test_channel_is_recorded_and_searched_from_the_manifest(channel_index):
    from lsr import Searcher
    from lsr.index.manifest import read_manifest

    lexical = read_manifest(channel_index)["query"]["lexical"]
    assert (lexical["weight"], lexical["k1"], lexical["b"]) == (1.0, 0.9, 0.4)
    with Searcher.open(channel_index) as searcher:
        weights = searcher.quantised("Does aspirin reduce colorectal cancer risk?")
        assert {PREFIX + "aspirin", PREFIX + "colorect", "cancer", "risk"} <= set(weights)


@pytest.mark.parametrize("settings, message", [
    ({"encoder": "splade-tiny", "query_encoder": "idf", "lexical_weight": -1.0}, "lexical_weight must be a finite number"),
    ({"encoder": "splade-tiny", "query_encoder": "idf", "lexical_weight": float("inf")}, "lexical_weight must be a finite number"),
    ({"encoder": "splade-tiny", "query_encoder": "idf", "lexical_weight": "high"}, "lexical_weight must be a finite number"),
    ({"lexical_weight": 1.0}, "a BM25 index is one already"),
])
def test_bad_lexical_weight_is_a_clear_error(settings, message):
    with pytest.raises(LsrError, match=message):
        IndexRecipe(name="x", **settings)


def test_recipes_without_the_channel_keep_their_fingerprints():
    plain = IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf")
    assert plain.fingerprint() == IndexRecipe(name="y", encoder="splade-tiny", query_encoder="idf", lexical_weight=0.0).fingerprint()
    assert plain.fingerprint() != IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf", lexical_weight=1.0).fingerprint()


def test_channel_added_to_reused_vectors_equals_a_fresh_build(channel_index, if_index, tiny, tmp_path):
    """--vectors-from an index without a channel adds one: the same index as encoding again (cheap weight sweeps)."""
    from lsr import Searcher
    from lsr.index.build import build_index

    recipe = IndexRecipe(name="if-bm25", encoder="splade-tiny", query_encoder="idf", lexical_weight=1.0)
    build_index(recipe, tiny, tmp_path / "reused", threads=1, progress=False, vectors_from=if_index)
    with Searcher.open(channel_index) as fresh, Searcher.open(tmp_path / "reused") as reused:
        for query in TINY_QUERIES.values():
            assert reused.quantised(query) == fresh.quantised(query)
            assert reused.search(query, k=12) == fresh.search(query, k=12)
    with pytest.raises(LsrError, match="hold a BM25 channel"):
        build_index(recipe, tiny, tmp_path / "again", threads=1, progress=False, vectors_from=channel_index)


@pytest.mark.parametrize("options", [{}, {"query_min_ratio": 0.3}, {"query_top_k": 4}, {"query_max_df": 0.5}])
def test_java_queries_with_the_channel_equal_the_python_path(channel_index, options):
    """Java's one-call queries (WordPiece + table + analysed terms) send Lucene what the Python path sends."""
    from lsr import Searcher
    from tests.test_scifact import TRICKY

    with Searcher.open(channel_index, **options) as searcher:
        assert searcher._text_queries is not None
        for query in [*TINY_QUERIES.values(), "Processes processes of smoking", *TRICKY]:
            weighted = searcher._text_queries.encode(query)
            assert list(zip(weighted.terms, weighted.weights)) == list(searcher.quantised(query).items()), query
            prepared = searcher._prepare(query)
            python = searcher._lucene.search(prepared, 5) if prepared is not None else []
            assert [tuple(hit) for hit in searcher.search(query, 5)] == python, query
