"""lsr serve: term explanations (lsr.search.explain), the JSON API through FastAPI's test client, bad requests, concurrency."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from lsr.errors import LsrError
from lsr.search import Searcher
from lsr.serve import MAX_BATCH, MAX_K, MAX_QUERY_CHARS, create_app, open_indexes
from lsr.serve.documents import Documents
from lsr.serve.indexes import parse_index_arguments

QUERY = "Does aspirin reduce colorectal cancer risk?"


@pytest.fixture(scope="module")
def client(bm25_index, channel_index):
    with TestClient(create_app({"bm25": bm25_index, "if": channel_index})) as client:
        yield client


@pytest.mark.parametrize("fixture", ["bm25_index", "if_index", "channel_index", "splade_index"])
def test_a_hits_terms_add_up_to_its_score(request, fixture):
    with Searcher.open(request.getfixturevalue(fixture)) as searcher:
        hits = searcher.search(QUERY, 5)
        explained = searcher.explain(QUERY, [hit.docid for hit in hits] + ["no-such-doc"])
    assert hits and explained["no-such-doc"] == []
    for hit in hits:
        terms = explained[hit.docid]
        assert terms, hit
        assert sum(term.contribution for term in terms) == pytest.approx(hit.score, rel=1e-3)
        assert all(term.contribution == pytest.approx(term.query_weight * term.document_weight, rel=1e-5) for term in terms)
        assert [term.contribution for term in terms] == sorted((term.contribution for term in terms), reverse=True)


def test_bm25_explains_with_analysed_terms_and_an_empty_query_explains_nothing(bm25_index):
    with Searcher.open(bm25_index) as searcher:
        terms = searcher.explain(QUERY, ["d1"])["d1"]
        assert {term.term for term in terms} == {"aspirin", "colorect", "cancer", "risk"}
        assert not any(term.lexical for term in terms)
        assert searcher.explain("  ", ["d1"]) == {"d1": []}
        with pytest.raises(LsrError, match="a query must be a str"):
            searcher.explain(None, ["d1"])


def test_impact_hits_mark_the_bm25_channel_and_expansion_terms(client, channel_index):
    from lsr.encoders.table import load_tokenizer

    body = client.get("/search", params={"q": "aspirin cancer", "index": "if", "k": 5, "explain": "true"}).json()
    from lsr.data import load_corpus

    tokenizer, texts = load_tokenizer(channel_index / "query" / "tokenizer.json"), {}
    for doc in load_corpus(json.loads((channel_index / "manifest.json").read_text())["corpus"]["path"]).corpus():
        texts[doc.id] = set(tokenizer.encode(doc.contents, add_special_tokens=False).tokens)
    terms = [(hit["docid"], term) for hit in body["hits"] for term in hit["terms"]]
    assert any(term["lexical"] for _, term in terms) and any(term["expansion"] for _, term in terms)
    for docid, term in terms:
        assert term["lexical"] == term["term"].startswith("|")
        assert term["expansion"] == (None if term["lexical"] else term["term"] not in texts[docid])
    d11 = next(hit for hit in body["hits"] if hit["docid"] == "d11")  # "Aspirin causes stomach bleeding": cancer comes from the model
    assert any(term["term"] == "cancer" and term["expansion"] for term in d11["terms"])


def test_search_returns_ranked_hits_with_titles_as_the_python_api_does(client, bm25_index):
    body = client.get("/search", params={"q": QUERY, "index": "bm25", "k": 3}).json()
    with Searcher.open(bm25_index) as searcher:
        expected = searcher.search(QUERY, 3)
    assert [(hit["rank"], hit["docid"]) for hit in body["hits"]] == [(rank, hit.docid) for rank, hit in enumerate(expected, 1)]
    assert [hit["score"] for hit in body["hits"]] == pytest.approx([hit.score for hit in expected])
    assert body["hits"][0]["title"] == "Aspirin and colorectal cancer" and body["hits"][0]["snippet"].startswith("Daily aspirin")
    assert body["hits"][0]["terms"] is None and body["index"] == "bm25" and body["k"] == 3
    assert client.get("/search", params={"q": QUERY}).json()["index"] == "bm25"  # the first index is the default


def test_batch_equals_single_searches_and_indexes_and_health_answer(client):
    queries = [QUERY, "smoking and lung cancer", "vitamin D fractures"]
    batch = client.post("/search", json={"queries": queries, "k": 4, "index": "if"}).json()["results"]
    single = [client.get("/search", params={"q": q, "k": 4, "index": "if"}).json() for q in queries]
    assert [[h["docid"] for h in r["hits"]] for r in batch] == [[h["docid"] for h in r["hits"]] for r in single]
    assert client.get("/healthz").json() == {"status": "ok", "indexes": 2}
    indexes = {index["name"]: index for index in client.get("/indexes").json()}
    assert indexes["if"]["kind"] == "impact" and indexes["if"]["documents"] == 11 and indexes["if"]["explains"]
    assert indexes["bm25"]["model"] == "BM25" and indexes["bm25"]["texts"] and indexes["bm25"]["size_bytes"] > 0
    assert "lsr search" in client.get("/").text and client.get("/openapi.json").json()["paths"]["/search"]


@pytest.mark.parametrize("method, kwargs, status, message", [
    ("get", {"params": {"q": ""}}, 422, "the query is empty"),
    ("get", {"params": {"q": "   "}}, 422, "the query is empty"),
    ("get", {"params": {}}, 422, "q: Field required"),
    ("get", {"params": {"q": "x" * (MAX_QUERY_CHARS + 1)}}, 413, f"at most {MAX_QUERY_CHARS}"),
    ("get", {"params": {"q": "aspirin", "k": 0}}, 422, "k: Input should be greater than or equal to 1"),
    ("get", {"params": {"q": "aspirin", "k": MAX_K + 1}}, 422, f"k: Input should be less than or equal to {MAX_K}"),
    ("get", {"params": {"q": "aspirin", "k": "ten"}}, 422, "k: Input should be a valid integer"),
    ("get", {"params": {"q": "aspirin", "index": "nope"}}, 404, "unknown index 'nope'; this server has: bm25, if"),
    ("get", {"params": {"q": "aspirin", "explain": "maybe"}}, 422, "explain: Input should be a valid boolean"),
    ("post", {"content": b"{queries: [", "headers": {"content-type": "application/json"}}, 422, "the request body is not valid JSON"),
    ("post", {"json": {"queries": []}}, 422, "queries: List should have at least 1 item"),
    ("post", {"json": {"queries": ["a"] * (MAX_BATCH + 1)}}, 422, f"queries: List should have at most {MAX_BATCH} items"),
    ("post", {"json": {"queries": "aspirin"}}, 422, "queries: Input should be a valid list"),
    ("post", {"json": {"queries": ["aspirin", 3]}}, 422, "queries.1: Input should be a valid string"),
    ("post", {"json": {"queries": ["aspirin", ""]}}, 422, "the query is empty"),
    ("post", {"json": {"queries": ["aspirin"], "index": "nope"}}, 404, "unknown index"),
    ("post", {"json": {"queries": ["aspirin"], "k": -1}}, 422, "k: Input should be greater than or equal to 1"),
])
def test_bad_requests_get_a_4xx_json_error_that_names_the_problem_and_the_server_lives_on(client, method, kwargs, status, message):
    response = getattr(client, method)("/search", **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert client.get("/healthz").status_code == 200


def test_concurrent_requests_get_the_serial_results(client):
    queries = [QUERY, "smoking and lung cancer", "Do statins lower cholesterol?", "antibiotic resistance in bacteria", "vitamin D fractures"] * 8
    indexes = ["bm25", "if"] * 20

    def ask(args):
        query, index = args
        return [hit["docid"] for hit in client.get("/search", params={"q": query, "index": index, "k": 5, "explain": "true"}).json()["hits"]]

    serial = [ask(pair) for pair in zip(queries, indexes)]
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(ask, zip(queries, indexes))) == serial


def test_a_full_server_answers_503_and_a_failing_search_500_without_dying(bm25_index):
    served = open_indexes({"bm25": bm25_index})
    release, started = threading.Event(), threading.Event()
    search = served["bm25"].searcher.search

    def slow(query, k):
        if query == "slow":
            started.set()
            release.wait(10)
        if query == "fail":
            raise RuntimeError("disk gone")
        return search(query, k)

    served["bm25"].searcher.search = slow
    app = create_app(served, max_concurrency=1, queue_seconds=0.2)
    with TestClient(app, raise_server_exceptions=False) as client, ThreadPoolExecutor(1) as pool:
        held = pool.submit(client.get, "/search", params={"q": "slow"})
        assert started.wait(10)
        busy = client.get("/search", params={"q": "aspirin"})
        release.set()
        assert busy.status_code == 503 and "busy" in busy.json()["error"]
        assert held.result().status_code == 200
        failed = client.get("/search", params={"q": "fail"})
        assert failed.status_code == 500 and "RuntimeError: disk gone" in failed.json()["error"]
        assert client.get("/search", params={"q": "aspirin"}).json()["hits"][0]["docid"] == "d1"


def test_missing_texts_degrade_to_ids_with_a_note_and_dense_indexes_say_they_cannot_explain(bm25_index, dense_index, tmp_path):
    from lsr.index.hybrid import build_hybrid
    from lsr.index.recipe import load_recipe
    from tests.test_hybrid import recipe_files

    build_hybrid(load_recipe(recipe_files(tmp_path, mode="fusion", method="rrf")), bm25_index, dense_index, tmp_path / "hybrid")
    served = open_indexes({"bm25": bm25_index, "dense": dense_index, "hybrid": tmp_path / "hybrid"})
    served["bm25"].documents = Documents.of_corpus({"path": str(tmp_path / "moved" / "corpus.jsonl")})
    with TestClient(create_app(served)) as client:
        body = client.get("/search", params={"q": QUERY, "k": 2, "explain": "true"}).json()
        assert body["hits"][0]["docid"] == "d1" and body["hits"][0]["title"] is None and body["hits"][0]["terms"]
        assert "is not on this machine: hits show ids only" in body["note"]
        dense = client.get("/search", params={"q": QUERY, "k": 2, "index": "dense", "explain": "true"}).json()
        assert dense["hits"][0]["terms"] is None and "a dense index has no term-level explanation" in dense["note"]
        assert dense["hits"][0]["title"]
        hybrid = client.get("/search", params={"q": QUERY, "k": 2, "index": "hybrid", "explain": "true"}).json()
        assert hybrid["hits"][0]["docid"] == "d1" and hybrid["hits"][0]["title"] and hybrid["note"] is None
        assert {term["term"] for term in hybrid["hits"][0]["terms"]} >= {"aspirin", "cancer"}  # its BM25 list's terms
        assert client.get("/indexes").json()[2]["kind"] == "hybrid"
    assert "does not record its corpus" in Documents.of_corpus(None).note


def test_index_arguments_are_named_by_folder_or_name_and_clashes_are_refused(bm25_index, if_index, tmp_path):
    assert parse_index_arguments([str(bm25_index), f"mine={if_index}"]) == {bm25_index.name: bm25_index, "mine": if_index}
    with pytest.raises(LsrError, match="two indexes are named 'x'"):
        parse_index_arguments([f"x={bm25_index}", f"x={if_index}"])
    with pytest.raises(LsrError, match="index name 'a b'"):
        parse_index_arguments([f"a b={bm25_index}"])
    with pytest.raises(LsrError, match="not an lsr index|manifest.json is missing"):
        open_indexes({"empty": tmp_path})


@pytest.mark.parametrize("host", ["999.999.0.1", "8.8.8.8", "in use"])
def test_an_address_lsr_serve_cannot_listen_on_is_one_line_and_exit_2(bm25_index, host, capsys):
    """uvicorn logged such failures and exited with status 3; a port in use, an address not of this machine and a name that
    does not resolve are now refused before the service starts."""
    import socket

    from lsr.bench.loadtest import free_port
    from lsr.cli import main
    from lsr.serve import check_address

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1] if host == "in use" else free_port()
        argv = ["serve", str(bm25_index), "--port", str(port)] + (["--host", host] if host != "in use" else [])
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lsr: error: cannot serve on ") and len(err.splitlines()) == 1
    check_address("127.0.0.1", free_port())  # a free port of this machine passes


def test_serve_help_lists_the_api():
    from lsr.cli.parser import build_parser

    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["serve"].format_help().split())
    assert "GET /search" in help_text and "--port" in help_text and "--max-concurrency" in help_text


def test_the_load_test_serves_concurrent_clients_the_serial_answers(bm25_index, channel_index, tmp_path):
    from lsr.bench.loadtest import LoadSettings, run_loadtest, write_result

    queries = ["aspirin cancer", "smoking and lung cancer", "vitamin D fractures"]
    result = run_loadtest({"bm25": bm25_index, "if": channel_index}, queries, LoadSettings(clients=4, seconds=1.0, max_concurrency=2))
    assert result["serial"]["requests"] == 6 and result["load"]["requests"] > 6
    assert result["load"]["errors"] == 0 and result["load"]["mismatches"] == 0
    assert 0 < result["load"]["p50_ms"] <= result["load"]["p99_ms"]
    paths = write_result(result, tmp_path)
    assert "| load (" in paths["markdown"].read_text() and json.loads(paths["json"].read_text())["load"]["requests"] == result["load"]["requests"]


@pytest.mark.parametrize("option, value, expected", [
    ("--seconds", "-1", "load test: seconds must be a finite number in (0, 86400], got -1.0"),
    ("--seconds", "nan", "load test: seconds must be a finite number in (0, 86400], got nan"),
    ("--seconds", "inf", "load test: seconds must be a finite number in (0, 86400], got inf"),
    ("--clients", "100000", "load test: clients must be an integer in [1, 512], got 100000"),
])
def test_a_load_test_of_no_time_or_endless_is_refused_before_the_service_starts(bm25_index, tiny, capsys, option, value, expected):
    from lsr.cli import main

    assert main(["loadtest", str(bm25_index), "--dataset", str(tiny.corpus_path.parent), option, value]) == 2
    assert capsys.readouterr().err == f"lsr: error: {expected}\n"
