"""End to end on the tiny corpus: build -> Lucene index -> Searcher, checked against exact retrieval."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from lsr import Hit, Searcher
from lsr.data import load_dataset
from lsr.errors import LsrError
from lsr.eval.metrics import evaluate
from lsr.index.build import build_index
from lsr.index.manifest import read_manifest
from lsr.index.recipe import IndexRecipe
from lsr.search import TwoPhase, lucene
from lsr.search.exact import ExactSearcher
from tests.conftest import TINY_QUERIES, write_beir


def run_of(searcher, k=10):
    results = searcher.batch_search(list(TINY_QUERIES.values()), k=k)
    return {q: {h.docid: h.score for h in hits} for q, hits in zip(TINY_QUERIES, results)}


def test_bm25_finds_the_relevant_documents(bm25_index, tiny):
    with Searcher.open(bm25_index) as searcher:
        hits = searcher.search("smoking and lung cancer", k=3)
        assert isinstance(hits[0], Hit) and hits[0].docid == "d3"
        assert evaluate(run_of(searcher), tiny.qrels("test"))["MRR@10"] == 1.0


@pytest.mark.parametrize("index", ["if_index", "splade_index"])
def test_lucene_impact_search_is_exact(index, request, tiny):
    """Lucene's scores equal scipy dot products of the same quantised vectors; rankings agree."""
    index_dir = request.getfixturevalue(index)
    exact = ExactSearcher.from_index(index_dir)
    with Searcher.open(index_dir) as searcher:
        for query in TINY_QUERIES.values():
            lucene = searcher.search(query, k=20)
            reference = exact.search(query, k=20)
            assert len(lucene) > 0
            assert [h.docid for h in lucene] == [h.docid for h in reference]
            np.testing.assert_allclose([h.score for h in lucene], [h.score for h in reference], rtol=1e-6)
        assert evaluate(run_of(searcher), tiny.qrels("test")) == evaluate(run_of(exact), tiny.qrels("test"))


def test_searchers_open_together_each_search_their_own_index(bm25_index, if_index, splade_index):
    """Each searcher answers from its own index while others are open, also from two threads at once.

    pyjnius shares a class's method objects between its instances; lsr once kept a bound method per
    index, and the first index opened then searched the last one's postings.
    """
    from concurrent.futures import ThreadPoolExecutor

    queries = list(TINY_QUERIES.values())
    indexes = [bm25_index, if_index, splade_index]
    alone = []
    for index in indexes:
        with Searcher.open(index) as searcher:
            alone.append(searcher.batch_search(queries, k=5))
    assert alone[0] != alone[1] != alone[2]
    searchers = [Searcher.open(index) for index in indexes]
    try:
        assert [s.batch_search(queries, k=5) for s in searchers] == alone
        assert [s.batch_search(queries, k=5) for s in reversed(searchers)] == alone[::-1]
        with ThreadPoolExecutor(2) as pool:  # two indexes searched at the same time, many times over
            together = pool.map(lambda i: searchers[i % 2].batch_search(queries, k=5), range(40))
            assert list(together) == [alone[i % 2] for i in range(40)]
    finally:
        for searcher in searchers:
            searcher.close()


def test_quantisation_keeps_the_float_ranking(if_index, tiny):
    """The integer impacts rank as the float SPLADE x IDF dot products do on this corpus."""
    from lsr.encoders import sparse
    from lsr.encoders.table import TableQueryEncoder

    manifest = read_manifest(if_index)
    model = sparse.load_sparse_encoder("splade-tiny", document_length=256)
    docs = [d for d in tiny.corpus() if d.contents]
    matrix = sparse.encode(model, [d.contents for d in docs], task="document")
    terms = {t: i for i, t in enumerate(sparse.vocabulary(model))}
    table = TableQueryEncoder.from_files(if_index / manifest["query"]["tokenizer"], if_index / manifest["query"]["weights"])
    with Searcher.open(if_index) as searcher:
        for query in TINY_QUERIES.values():
            q = np.zeros(matrix.shape[1])
            for term, weight in table.encode(query).items():
                q[terms[term]] = weight
            scores = matrix @ q
            ranked = [docs[i].id for i in np.argsort(-scores, kind="stable")]
            lucene = [h.docid for h in searcher.search(query, k=3)]
            assert lucene and lucene == ranked[:len(lucene)]  # a doc left out scored ~0 after rounding


def test_query_terms_missing_from_the_index_do_not_change_scores(if_index):
    indexed = ExactSearcher.from_index(if_index).columns
    with Searcher.open(if_index) as searcher:
        absent = [w for w in ("zygote", "xylophone", "saxophone", "volcano", "penguin", "tornado") if not set(searcher.quantised(w)) & set(indexed)]
        assert absent, "every candidate word has a token in the index"
        assert all(searcher.quantised(w) for w in absent)  # they do reach Lucene as weighted terms
        base = searcher.search("aspirin cancer", k=5)
        assert base == searcher.search("aspirin cancer " + " ".join(absent), k=5)


@pytest.mark.parametrize("index", ["bm25_index", "if_index", "splade_index"])
def test_empty_and_unmatchable_queries_have_no_hits(index, request):
    with Searcher.open(request.getfixturevalue(index)) as searcher:
        assert searcher.search("", k=5) == []
        assert searcher.search("   ", k=5) == []
        assert searcher.batch_search(["", "aspirin"], k=2)[0] == []
        assert len(searcher.batch_search(["", "aspirin"], k=2)[1]) == 2


LONG_QUERY = "aspirin cancer " + " ".join(f"word{i}x" for i in range(3000))  # ~3,000 distinct analysed terms, 1,024 being Lucene's default limit


@pytest.mark.parametrize("index, two_phase", [("bm25_index", None), ("if_index", None), ("if_index", TwoPhase(0.4, 5)), ("splade_index", None)])
def test_a_query_of_thousands_of_distinct_words_is_searched(index, two_phase, request):
    with Searcher.open(request.getfixturevalue(index), two_phase=two_phase) as searcher:
        assert searcher.search(LONG_QUERY, k=3)[0].docid in ("d1", "d11", "d12")
        many = {f"term{i}": 1 + i % 7 for i in range(3000)} | {"cancer": 50}  # a model's query may weigh thousands of terms
        assert searcher._lucene.search(searcher._lucene.weighted_query(many), 3)
        assert searcher._lucene.two_phase(many, 3, 0.4, 5.0, 1.0)


def test_a_query_beyond_the_clause_limit_is_cut_with_a_warning(bm25_index, if_index, monkeypatch, caplog):
    monkeypatch.setattr(lucene, "MAX_QUERY_CLAUSES", 100)
    words = LONG_QUERY.split()
    assert lucene.within_clause_limit(" ".join(words[:50])) == " ".join(words[:50]) and not caplog.records
    assert lucene.within_clause_limit(LONG_QUERY * 2) == " ".join(words[:100])  # "aspirin", "cancer" and 98 more terms
    assert lucene.within_term_limit({f"t{i}": i for i in range(300)}) == {f"t{i}": i for i in range(299, 199, -1)}
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"] and "cut to its first 100" in caplog.records[0].message
    with Searcher.open(bm25_index) as searcher:
        assert searcher.search(LONG_QUERY, k=3)


def test_query_of_only_special_or_unknown_tokens(if_index):
    with Searcher.open(if_index) as searcher:
        assert searcher.quantised("[SEP] [CLS]") == {}
        assert searcher.search("[SEP] [CLS]", k=5) == []


def test_manifest_records_what_was_built(if_index, tiny):
    manifest = read_manifest(if_index)
    assert manifest["kind"] == "impact" and manifest["query"]["type"] == "idf"
    assert manifest["num_docs"] == 11 and manifest["skipped_empty"] == ["d9"]
    assert manifest["corpus"]["sha256"] == tiny.corpus_sha256
    assert manifest["recipe"]["doc_scale"] == 100.0 and manifest["avg_doc_terms"] > 10
    idf = json.loads((if_index / "query" / "idf.json").read_text())
    assert "[CLS]" not in idf and idf["sleep"] > idf["cancer"] > idf["in"] > 0


def test_impact_index_stores_wordpiece_terms_verbatim(if_index):
    """--pretokenized: '##ing'-style pieces are indexed as they are."""
    shard = next((if_index / "collection").glob("*.jsonl"))
    terms = {t for line in shard.read_text().splitlines() for t in json.loads(line)["vector"]}
    piece = next(t for t in terms if t.startswith("##"))
    exact = ExactSearcher.from_index(if_index)
    assert exact.columns[piece] >= 0
    with Searcher.open(if_index) as searcher:
        assert len(searcher._lucene.search(searcher._lucene.weighted_query({piece: 1}), 5)) > 0


def test_inference_free_search_does_not_import_torch(if_index):
    code = (
        "import sys; from lsr import Searcher; s = Searcher.open(sys.argv[1]); hits = s.search('aspirin cancer', k=3); "
        "assert hits, 'no hits'; "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'pyserini') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(if_index)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_failed_build_leaves_nothing_that_looks_complete(tmp_path):
    root = write_beir(tmp_path / "bad")
    with open(root / "corpus.jsonl", "a", encoding="utf-8") as out:
        out.write('{"_id": "d1", "text": "duplicate id"}\n')
    output = tmp_path / "index"
    with pytest.raises(LsrError, match="duplicate _id 'd1'"):
        build_index(IndexRecipe(name="bm25"), load_dataset(str(root)), output, progress=False)
    assert not output.exists() and not (tmp_path / "index.partial").exists()
    with pytest.raises(LsrError, match="not an lsr index"):
        Searcher.open(output)


def test_rebuild_replaces_an_existing_index(tmp_path, tiny):
    output = tmp_path / "index"
    build_index(IndexRecipe(name="bm25"), tiny, output, progress=False)
    (output / "stale").write_text("x")
    build_index(IndexRecipe(name="bm25", k1=1.2), tiny, output, progress=False)
    assert not (output / "stale").exists() and read_manifest(output)["query"]["k1"] == 1.2


@pytest.mark.parametrize("settings, message", [
    ({"doc_max_length": 1000}, "sparse encoder 'splade-tiny' reads at most 512 tokens per text (its max_position_embeddings), asked for 1000"),
    ({"query_max_length": 513}, "reads at most 512 tokens per text (its max_position_embeddings), asked for 513 per query"),
    ({"doc_scale": 1e12}, "doc_scale 1e+12 makes impacts beyond Lucene's 2147483647"),
])
def test_impact_settings_the_model_cannot_honour_are_refused(tiny, tmp_path, settings, message):
    with pytest.raises(LsrError, match=re.escape(message)):
        build_index(IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf", **settings), tiny, tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_recipe_rejects_unknown_settings(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nencoder: splade-tiny\nquery_encodr: idf\n")
    with pytest.raises(LsrError, match="unknown setting\\(s\\) query_encodr"):
        IndexRecipe.load(path)
    path.write_text("name: x\nquery_encoder: bert\n")
    with pytest.raises(LsrError, match="query_encoder must be one of"):
        IndexRecipe.load(path)


BAD_ARGUMENTS = [
    (lambda s: s.search(None), "a query must be a str, got NoneType None"),
    (lambda s: s.search(123), "a query must be a str, got int 123"),
    (lambda s: s.search(["aspirin", "risk"]), "a query must be a str, got list"),
    (lambda s: s.search(b"aspirin"), "a query must be a str, got bytes"),
    (lambda s: s.batch_search("aspirin risk"), "queries must be a list of str, got str 'aspirin risk' (search takes one query)"),
    (lambda s: s.batch_search(["aspirin", None]), "a query must be a str, got NoneType"),
    (lambda s: s.batch_search(7), "queries must be a list of str, got int 7"),
    (lambda s: s.search("aspirin", k=2.5), "k must be at least 1 and a whole number, got 2.5"),
    (lambda s: s.search("aspirin", k="3"), "k must be at least 1 and a whole number, got '3'"),
    (lambda s: s.search("aspirin", k=None), "k must be at least 1 and a whole number, got None"),
    (lambda s: s.search("aspirin", k=True), "k must be at least 1 and a whole number, got True"),
    (lambda s: s.batch_search(["aspirin"], k=0), "k must be at least 1 and a whole number, got 0"),
    (lambda s: s.batch_search(["aspirin", "risk"], threads="2"), "threads must be a whole number, got '2'"),
    (lambda s: s.batch_search(["aspirin", "risk"], threads=10**6), "threads must be at most 512, got 1000000"),
]


@pytest.mark.parametrize("index", ["bm25_index", "if_index"])
@pytest.mark.parametrize("call, message", BAD_ARGUMENTS)
def test_arguments_of_the_wrong_type_are_a_clear_error(index, call, message, request):
    with Searcher.open(request.getfixturevalue(index)) as searcher:
        with pytest.raises(LsrError, match=re.escape(message)):
            call(searcher)


@pytest.mark.parametrize("index, options, message", [
    ("if_index", {"query_min_ratio": "0.5"}, "query pruning: min_ratio must be a number between 0 and 1, got '0.5'"),
    ("if_index", {"query_max_df": "0.5"}, "query_max_df must be a number in (0, 1], got '0.5'"),
    ("if_index", {"query_top_k": True}, "query pruning: top_k must be a positive integer or empty, got True"),
    ("if_index", {"two_phase": (0.5,)}, "two_phase must be a TwoPhase(ratio, expansion[, whole_share]), got (0.5,)"),
    ("if_index", {"two_phase": "0.4 5"}, "two_phase must be a TwoPhase(ratio, expansion[, whole_share]), got '0.4 5'"),
    ("bm25_index", {"query_top_k": 2}, "query_top_k apply only to impact indexes searched by Lucene; this is a bm25 index, which would ignore them"),
    ("dense_index", {"query_max_df": 0.5, "two_phase": TwoPhase()}, "query_max_df, two_phase apply only to impact indexes searched by Lucene; "
                                                                   "this is a dense index"),
])
def test_search_options_of_the_wrong_type_or_for_another_kind_of_index_are_a_clear_error(index, options, message, request):
    with pytest.raises(LsrError, match=re.escape(message)):
        Searcher.open(request.getfixturevalue(index), **options)


def test_two_phase_given_as_a_plain_tuple_searches_as_a_two_phase(if_index):
    with Searcher.open(if_index, two_phase=(0.4, 5)) as plain, Searcher.open(if_index, two_phase=TwoPhase(0.4, 5)) as named:
        assert plain.two_phase == named.two_phase and plain.search("aspirin cancer risk", 5) == named.search("aspirin cancer risk", 5)


@pytest.mark.parametrize("index, two_phase", [("bm25_index", None), ("if_index", None), ("if_index", TwoPhase(0.4, 5)), ("splade_index", None),
                                              ("splade_index", TwoPhase(0.4, 5))])
@pytest.mark.parametrize("k", [2**31 - 1, 2**31, 2**40, np.int64(2**40)])
def test_k_beyond_a_java_int_returns_every_matching_document(index, two_phase, k, request):
    with Searcher.open(request.getfixturevalue(index), two_phase=two_phase) as searcher:
        every = searcher.search("aspirin cancer risk", k=1000)
        assert len(every) > 1
        assert searcher.search("aspirin cancer risk", k=k) == every
        assert searcher.batch_search(["aspirin cancer risk", "smoking"], k=k, threads=2)[0] == every


@pytest.mark.parametrize("path, message", [
    ("", "'' is not an lsr index: manifest.json is missing"),
    ("/", "/ is not an lsr index: manifest.json is missing"),
    (".", ". is not an lsr index: manifest.json is missing"),
    (None, "index_dir must be an index folder's path (str or os.PathLike), got NoneType None"),
    (123, "index_dir must be an index folder's path (str or os.PathLike), got int 123"),
])
def test_a_path_that_is_no_index_folder_is_a_clear_error(path, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LsrError, match=re.escape(message)):
        Searcher.open(path)


def test_an_index_opens_by_a_path_relative_to_the_current_folder(bm25_index, monkeypatch):
    Searcher.open(bm25_index).close()  # the JVM started before the change of folder
    monkeypatch.chdir(bm25_index.parent)
    for path in (bm25_index.name, f"./{bm25_index.name}/"):
        with Searcher.open(path) as searcher:
            assert searcher.search("smoking", k=1)[0].docid == "d3"
    monkeypatch.chdir(bm25_index)
    with Searcher.open(".") as searcher:
        assert searcher.search("smoking", k=1)[0].docid == "d3"


@pytest.mark.parametrize("fixture", ["bm25_index", "if_index"])
def test_a_closed_searcher_says_so_instead_of_a_java_stack_trace(request, fixture):
    searcher = Searcher.open(request.getfixturevalue(fixture))
    searcher.close()
    searcher.close()  # closing twice is harmless
    for call in (lambda: searcher.search("aspirin", 3), lambda: searcher.batch_search(["aspirin", "smoking"], 3, threads=2),
                 lambda: searcher.explain("aspirin", ["d1"])):
        with pytest.raises(LsrError, match=r"the searcher of .* is closed: open the index again"):
            call()


@pytest.mark.parametrize("threads", [0, -1, 10**6, 2.5, True, "2"])
def test_index_builds_from_python_refuse_a_thread_count_java_or_faiss_would_choke_on(tiny, tmp_path, threads):
    from lsr.index.build import build_index
    from lsr.index.dense import build_dense_index
    from lsr.index.recipe import DenseRecipe, IndexRecipe

    with pytest.raises(LsrError, match=rf"build_index's threads must be a whole number from 1 to 512, got {re.escape(repr(threads))}"):
        build_index(IndexRecipe(name="bm25"), tiny, tmp_path / "bm25", threads=threads, progress=False)
    with pytest.raises(LsrError, match=r"build_dense_index's threads must be a whole number from 1 to 512"):
        build_dense_index(DenseRecipe(name="minilm"), tiny, tmp_path / "dense", threads=threads, progress=False)
    assert not list(tmp_path.iterdir())  # refused before any work


@pytest.mark.parametrize("build", ["build_index", "build_dense_index"])
@pytest.mark.parametrize("argument, value, expected", [
    ("recipe", {"name": "x"}, "recipe must be an {kind} (e.g. {kind}.load(path)), got dict"),
    ("dataset", "tiny", "dataset must be an lsr Dataset (lsr.data.load_dataset(name or folder)), got str 'tiny'"),
    ("output", None, "output must be a folder's path (str or os.PathLike), got NoneType None"),
    ("output", "", "output must be a folder's path (str or os.PathLike), got str ''"),
])
def test_index_builds_from_python_refuse_arguments_of_the_wrong_type_before_any_work(tiny, tmp_path, build, argument, value, expected):
    from lsr.index.build import build_index
    from lsr.index.dense import build_dense_index
    from lsr.index.recipe import DenseRecipe, IndexRecipe

    make, kind = (build_index, IndexRecipe) if build == "build_index" else (build_dense_index, DenseRecipe)
    arguments = {"recipe": kind(name="x"), "dataset": tiny, "output": tmp_path / "x", argument: value}
    with pytest.raises(LsrError, match=re.escape(expected.format(kind=kind.__name__))):
        make(**arguments, threads=1, progress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", [123, None, ""])
def test_a_dataset_that_is_no_name_or_path_is_a_clear_error(name):
    from lsr.data import load_dataset

    with pytest.raises(LsrError, match=re.escape(f"a dataset is a name or a folder's path (str or os.PathLike), got {type(name).__name__} {name!r}")):
        load_dataset(name)
