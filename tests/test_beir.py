"""Loading BEIR-layout data: every kind of bad input gets an error naming file, line and field."""

import json
import re
from pathlib import Path

import pytest

from lsr.data import Dataset, load_corpus, load_dataset
from lsr.errors import LsrError
from tests.conftest import TINY_DOCS, write_beir


def corpus_with(tmp_path, lines: list[bytes]) -> Dataset:
    root = write_beir(tmp_path / "d")
    (root / "corpus.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return load_dataset(str(root))


def read_all(dataset):
    return list(dataset.corpus())


def test_reads_the_tiny_dataset(tiny):
    docs = read_all(tiny)
    assert len(docs) == 12 and docs[0].id == "d1"
    assert docs[0].contents == "Aspirin and colorectal cancer Daily aspirin use lowers the risk of colorectal cancer in adults."
    assert docs[10].contents == "Aspirin causes stomach bleeding in some patients."  # no title: no leading space
    assert tiny.queries("test")["q3"] == "Do statins lower cholesterol?"
    assert tiny.qrels("test")["q5"] == {"d2": 2, "d11": 0}


@pytest.mark.parametrize("line, message", [
    (b'{"_id": "a", "text": "x"', "malformed JSON"),
    (b'{"text": "x"}', "missing field '_id'"),
    (b'{"_id": "a"}', "missing field 'text'"),
    (b'{"_id": "a", "text": 5}', "field 'text' must be a string"),
    (b'["a", "x"]', "expected a JSON object"),
    (b'{"_id": "", "text": "x"}', "field '_id' is empty"),
    (b'{"_id": "a", "text": "caf\xe9"}', "not valid UTF-8"),
    (b'{"_id": "a", "text": "bad \\ud800 here"}', r"an unpaired surrogate escape \(\\ud800\) is no text"),
    (b'{"_id": "a", "title": "\\udfff", "text": "x"}', r"an unpaired surrogate escape \(\\udfff\) is no text"),
    (b'{"_id": "a", "text": "x", "meta": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "JSON nested too deeply to read"),
])
def test_bad_corpus_line_names_file_and_line(tmp_path, line, message):
    dataset = corpus_with(tmp_path, [b'{"_id": "ok", "text": "fine"}', line])
    with pytest.raises(LsrError, match=rf"corpus.jsonl:2: .*{message}|corpus.jsonl:2: {message}"):
        read_all(dataset)


def test_a_surrogate_pair_of_escapes_reads_as_its_character(tmp_path):
    dataset = corpus_with(tmp_path, [b'{"_id": "a", "text": "pill \\ud83d\\udc8a"}'])
    assert read_all(dataset)[0].text == "pill \U0001f48a"


WHITESPACE = "holds whitespace or a control character, which TREC run files cannot"


@pytest.mark.parametrize("doc_id", ["d 1", "d1\t", "\nd1", "d\u00a01", "   ", "d\x001", "d\x7f", "\x1bd1"])
def test_ids_that_would_corrupt_a_run_file_are_refused(tmp_path, doc_id):
    dataset = corpus_with(tmp_path, [b'{"_id": "ok", "text": "fine"}', json.dumps({"_id": doc_id, "text": "x"}).encode()])
    with pytest.raises(LsrError, match=re.escape(f"corpus.jsonl:2: field '_id' {doc_id!r} {WHITESPACE}")):
        read_all(dataset)


@pytest.mark.parametrize("query_id, qrels_line, message", [
    ("q 1", "q1\td1\t1", f"queries.jsonl:2: field '_id' 'q 1' {WHITESPACE}"),
    ("q1", "q 1\td1\t1", f"test.tsv:2: query-id 'q 1' {WHITESPACE}"),
    ("q1", "q1\td 1\t1", f"test.tsv:2: corpus-id 'd 1' {WHITESPACE}"),
    ("q1", "q1\t\t1", "test.tsv:2: corpus-id is empty"),
    ("q1", "\td1\t1", "test.tsv:2: query-id is empty"),
])
def test_query_and_qrels_ids_that_would_corrupt_a_run_file_are_refused(tmp_path, query_id, qrels_line, message):
    root = write_beir(tmp_path / "d", queries={"q0": "fine", query_id: "aspirin"}, qrels={})
    (root / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\n{qrels_line}\n", encoding="utf-8")
    with pytest.raises(LsrError, match=re.escape(message)):
        load_dataset(str(root)).queries("test")


def test_duplicate_ids_name_both_lines(tmp_path):
    dataset = corpus_with(tmp_path, [b'{"_id": "a", "text": "x"}', b'{"_id": "b", "text": "y"}', b'{"_id": "a", "text": "z"}'])
    with pytest.raises(LsrError, match=r"corpus.jsonl:3: duplicate _id 'a' \(first seen on line 1\)"):
        read_all(dataset)


def test_integer_ids_and_blank_lines_are_accepted(tmp_path):
    dataset = corpus_with(tmp_path, [b'{"_id": 7, "text": "x"}', b"", b'{"_id": "8", "title": null, "text": "y"}'])
    assert [d.id for d in read_all(dataset)] == ["7", "8"]


def test_a_corpus_file_alone_is_a_dataset(tiny):
    corpus = load_corpus(str(tiny.corpus_path))
    assert corpus.name == "corpus" and [d.id for d in read_all(corpus)] == [d.id for d in read_all(tiny)]
    assert load_corpus(str(tiny.root)).name == tiny.name


def test_a_folder_with_only_a_corpus_is_a_corpus_but_not_an_evaluation_dataset(tiny, tmp_path):
    """``lsr adapt`` and ``lsr idf`` read a corpus alone; evaluation needs its queries."""
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "corpus.jsonl").write_text(tiny.corpus_path.read_text())
    assert [d.id for d in load_corpus(str(tmp_path / "bare")).corpus()] == [d.id for d in tiny.corpus()]
    assert load_dataset(str(tmp_path / "bare"), corpus_only=True).name == "bare"
    with pytest.raises(LsrError, match="queries.jsonl is missing"):
        load_dataset(str(tmp_path / "bare"))


def test_judged_documents_missing_from_the_corpus_are_reported_once(tiny, tmp_path, caplog):
    dataset = load_dataset(str(write_beir(tmp_path / "gaps", docs=[d for d in TINY_DOCS if d[0] != "d1"])))
    with caplog.at_level("WARNING", logger="lsr"):
        dataset.qrels("test")
        dataset.qrels("test")
    warnings = [r.getMessage() for r in caplog.records if "judged document" in r.getMessage()]
    assert len(warnings) == 1 and "'d1'" in warnings[0] and "1 judged document(s)" in warnings[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="lsr"):
        tiny.qrels("test")
    assert not [r for r in caplog.records if "judged document" in r.getMessage()]


def test_missing_split_lists_the_available_ones(tiny):
    with pytest.raises(LsrError, match=r"no qrels for split 'dev'.*available: test"):
        tiny.qrels("dev")


def test_malformed_qrels_line(tmp_path):
    root = write_beir(tmp_path / "d")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n", encoding="utf-8")
    with pytest.raises(LsrError, match=r"test.tsv:2: expected 3 tab-separated columns"):
        load_dataset(str(root)).qrels("test")


def test_files_saved_with_a_byte_order_mark_and_windows_line_breaks_read_as_written(tmp_path):
    root = write_beir(tmp_path / "d")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        path = root / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    dataset, plain = load_dataset(str(root)), load_dataset(str(write_beir(tmp_path / "plain")))
    assert list(dataset.corpus()) == list(plain.corpus())
    assert dataset.queries("test") == plain.queries("test") and dataset.qrels("test") == plain.qrels("test")


def test_qrels_that_are_not_utf8_name_the_line(tmp_path):
    root = write_beir(tmp_path / "d")
    (root / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\x801\t1\n")
    with pytest.raises(LsrError, match=r"test.tsv:2: not valid UTF-8"):
        load_dataset(str(root)).qrels("test")


def test_a_pair_judged_twice_with_different_grades_is_reported(tmp_path, caplog):
    root = write_beir(tmp_path / "d")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t1\nq1\td1\t0\n", encoding="utf-8")
    assert load_dataset(str(root)).qrels("test") == {"q1": {"d1": 0}}
    assert "test.tsv: 1 (query, document) pair(s) judged twice with different grades, the later grade kept (e.g. line 4: q1 d1 1 -> 0)" \
        in caplog.text


def test_judged_query_missing_from_queries(tmp_path):
    root = write_beir(tmp_path / "d", qrels={"q1": {"d1": 1}, "nope": {"d2": 1}})
    with pytest.raises(LsrError, match=r"1 query ids have no entry.*'nope'"):
        load_dataset(str(root)).queries("test")


def test_unknown_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LSR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "irds"))
    with pytest.raises(LsrError, match=r"dataset 'no-such-set' not found"):
        load_dataset("no-such-set")


def test_dataset_by_name_under_the_data_root(tmp_path, monkeypatch):
    write_beir(tmp_path / "mine")
    monkeypatch.setenv("LSR_DATA_DIR", str(tmp_path))
    assert load_dataset("mine").name == "mine"
    assert json.loads((tmp_path / "mine" / "queries.jsonl").read_text().splitlines()[0])["_id"] == "q1"


def test_locations_come_from_the_argument_then_the_environment_then_per_user_defaults(tmp_path, monkeypatch):
    from lsr import config

    for name in ("LSR_DATA_DIR", "LSR_OUT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LSR_CACHE_DIR", str(tmp_path / "cache"))
    assert config.data_root() == tmp_path / "cache" / "datasets"  # never a path that only exists in one checkout's layout
    assert config.out_dir() == Path("out")
    monkeypatch.setenv("LSR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LSR_OUT_DIR", str(tmp_path / "out"))
    assert (config.data_root(), config.out_dir()) == (tmp_path / "data", tmp_path / "out")
    assert (config.data_root("d"), config.out_dir("o")) == (Path("d"), Path("o"))
