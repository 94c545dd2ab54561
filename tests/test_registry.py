"""The BEIR dataset registry: names, official counts, missing files, identical-id handling."""

import pytest

from lsr.errors import LsrError
from lsr.eval import registry
from lsr.eval.registry import BEIR, BeirInfo, open_dataset, parse_name
from tests.conftest import write_beir


@pytest.mark.parametrize("name, parsed", [
    ("scifact", ("scifact", None)),
    ("beir/scifact", ("scifact", None)),
    ("beir/fiqa/dev", ("fiqa", "dev")),
    ("cqadupstack/android", ("cqadupstack/android", None)),
    ("beir/cqadupstack/android/test", ("cqadupstack/android", "test")),
])
def test_names(name, parsed):
    assert parse_name(name) == parsed


def test_table_holds_the_beir_datasets_with_their_published_totals():
    forums = [info for name, info in BEIR.items() if name.startswith("cqadupstack/")]
    assert len(BEIR) - len(forums) == 18 and len(forums) == 12  # 18 names + CQADupStack's 12 subforums
    assert sum(f.corpus for f in forums) == 457_199 and sum(f.splits["test"][0] for f in forums) == 13_145  # BEIR paper, Table 1
    assert BEIR["msmarco"].split == "dev" and BEIR["msmarco"].splits["dev"][0] == 6_980
    assert {n for n, i in BEIR.items() if i.ignore_identical_ids} == {"arguana", "quora"}


def test_wrong_counts_name_the_files_and_both_numbers(tmp_path):
    write_beir(tmp_path / "scifact")  # the tiny corpus posing as SciFact
    with pytest.raises(LsrError) as error:
        open_dataset("scifact", tmp_path)
    message = str(error.value)
    assert "not the official BEIR copy" in message
    assert "corpus.jsonl has 12 documents, the official corpus 5,183" in message
    assert "test.tsv judges 5 queries, officially 300" in message


def test_wrong_qrels_line_count(tmp_path, monkeypatch):
    write_beir(tmp_path / "known")
    monkeypatch.setitem(registry.BEIR, "known", BeirInfo(12, {"test": (5, 6)}))
    assert open_dataset("known", tmp_path).dataset.name == "known"  # the right counts pass
    monkeypatch.setitem(registry.BEIR, "known", BeirInfo(12, {"test": (5, 7)}))
    with pytest.raises(LsrError, match=r"test.tsv has 6 judgements, officially 7"):
        open_dataset("known", tmp_path)


def test_missing_queries_file(tmp_path):
    (write_beir(tmp_path / "mine") / "queries.jsonl").unlink()
    with pytest.raises(LsrError, match=r"mine/queries.jsonl is missing"):
        open_dataset("mine", tmp_path)


def test_missing_qrels_split(tmp_path):
    write_beir(tmp_path / "mine", split="dev")
    with pytest.raises(LsrError, match=r"mine/qrels/test.tsv is missing \(splits with qrels: dev\)"):
        open_dataset("mine", tmp_path)
    assert open_dataset("beir/mine/dev", tmp_path).split == "dev"


def test_dataset_that_cannot_be_downloaded(tmp_path):
    with pytest.raises(LsrError, match=r"'bioasq' not found.*cannot be downloaded \(not redistributed"):
        open_dataset("bioasq", tmp_path)


def test_identical_ids_follow_beir_and_can_be_overridden(tmp_path, monkeypatch):
    write_beir(tmp_path / "arguana")
    write_beir(tmp_path / "mine")
    monkeypatch.setitem(registry.BEIR, "arguana", BeirInfo(12, {"test": (5, 6)}, ignore_identical_ids=True))
    assert open_dataset("arguana", tmp_path).ignore_identical_ids is True
    assert open_dataset("mine", tmp_path).ignore_identical_ids is False
    assert open_dataset("mine", tmp_path, ignore_identical_ids=True).ignore_identical_ids is True


def test_nested_names_are_checked_and_flattened(tmp_path):
    write_beir(tmp_path / "cqadupstack" / "android")
    with pytest.raises(LsrError, match=r"'cqadupstack-android' \(test\) is not the official BEIR copy.*22,998"):
        open_dataset("cqadupstack/android", tmp_path)
