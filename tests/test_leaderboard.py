"""The leaderboard: matrix files, --check on moved cells, a new dataset through the whole matrix, SciFact BM25."""

import csv
from pathlib import Path

import pytest

from lsr.cli import main
from lsr.errors import LsrError
from lsr.eval.leaderboard import Cell, Leaderboard
from lsr.eval.matrix import Matrix, Pin
from tests.conftest import write_beir

REPO = Path(__file__).resolve().parents[1]
TINY_BM25 = 1.0  # BM25 nDCG@10 on the tiny corpus (tests/conftest.py): every relevant document ranked first


def write_matrix(folder: Path, body: str) -> Path:
    path = folder / "eval" / "matrix.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"systems:\n  bm25: {{recipe: {REPO / 'indexing' / 'bm25.yaml'}, label: BM25}}\n{body}", encoding="utf-8")
    return path


def leaderboard(tmp_path: Path, *args: str) -> int:
    return main(["leaderboard", *args, "--data-dir", str(tmp_path / "data"), "--out-dir", str(tmp_path / "out"),
                 "--output", str(tmp_path / "board"), "--threads", "1", "--quiet"])


@pytest.mark.parametrize("body, message", [
    ("datasets:\n  tiny:\n    expected: {nope: 0.5}\n", r"datasets.tiny.expected.nope: no such system"),
    ("datasets:\n  tiny:\n    expected: {bm25: {ndcg: 0.5}}\n", r"datasets.tiny.expected.bm25: a pinned cell is a number or"),
    ("datasets:\n  tiny:\n    expected: {bm25: high}\n", r"datasets.tiny.expected.bm25.nDCG@10 must be a number, got .high."),
    ("datasets:\n  tiny:\n    expected: {bm25: 67.89}\n", r"datasets.tiny.expected.bm25.nDCG@10 must be a finite number in \[0, 1\], got 67.89"),
    ("datasets:\n  tiny:\n    expected: {bm25: .nan}\n", r"datasets.tiny.expected.bm25.nDCG@10 must be a finite number in \[0, 1\], got nan"),
    ("datasets:\n  tiny:\n    expected: {bm25: {nDCG@10: 0.5, tolerance: -0.01}}\n",
     r"datasets.tiny.expected.bm25.tolerance must be a finite number in \[0, 1\], got -0.01"),
    ("tolerance: .inf\ndatasets:\n  tiny: {}\n", r"matrix.yaml: tolerance must be a finite number in \[0, 1\], got inf"),
    ("baseline: splade\ndatasets:\n  tiny: {}\n", r"baseline 'splade' is not one of the systems"),
    ("datasets:\n  tiny: {spilt: test}\n", r"unknown setting\(s\) spilt"),
    ("k: ten\ndatasets:\n  tiny: {}\n", r"matrix.yaml: k must be an integer >= 1, got 'ten'"),
    ("k: 1.9\ndatasets:\n  tiny: {}\n", r"matrix.yaml: k must be an integer >= 1, got 1.9"),
    ("alpha: 7\ndatasets:\n  tiny: {}\n", r"matrix.yaml: alpha must be a finite number in \(0, 1\], got 7"),
    ("bonferroni: 'no'\ndatasets:\n  tiny: {}\n", r"matrix.yaml: bonferroni must be true or false, got 'no' \(a string: write true or false"),
    ("datasets:\n  tiny: {ignore_identical_ids: 'false'}\n", r"datasets.tiny.ignore_identical_ids must be true or false or absent, got 'false'"),
    ("datasets:\n  tiny: {split: ../../tiny/qrels/test}\n", r"datasets.tiny.split '../../tiny/qrels/test' must be a plain name"),
    ("datasets:\n  tiny: {expected: [bm25]}\n", r"datasets.tiny.expected must map system names to pinned cells, got \['bm25'\]"),
    ("datasets:\n  5: {}\n", r"dataset 5: a dataset name is text; quote it \('5'\)"),
    ("baseline: [bm25]\ndatasets:\n  tiny: {}\n", r"baseline \['bm25'\] is not one of the systems"),
    (f"  a/b: {{recipe: {REPO / 'indexing' / 'bm25.yaml'}}}\ndatasets:\n  tiny: {{}}\n", r"matrix.yaml: system 'a/b' must be a plain name"),
    (f"  splade-tiny: {{recipe: {REPO / 'indexing' / 'inference-free.yaml'}, encoder: '../m/{{dataset}}'}}\n"
     f"  splade: {{recipe: {REPO / 'indexing' / 'splade-tiny.yaml'}}}\ndatasets:\n  tiny: {{}}\n",
     r"matrix.yaml: systems 'splade-tiny' and 'splade' both build an index named 'splade-tiny', with other settings"),
    (f"  h: {{recipe: {REPO / 'indexing' / 'hybrid-bm25-minilm-rrf.yaml'}, encoder: '../m/{{dataset}}'}}\ndatasets:\n  tiny: {{}}\n",
     r"matrix.yaml: system 'h': encoder replaces the encoder of a sparse or dense recipe"),
])
def test_bad_matrix_names_file_and_field(tmp_path, body, message):
    with pytest.raises(LsrError, match=message):
        Matrix.load(write_matrix(tmp_path, body))


def test_matrix_numbers_that_are_exactly_integers_are_read_as_integers(tmp_path):
    matrix = Matrix.load(write_matrix(tmp_path, "k: 100.0\nbonferroni: false\ndatasets:\n  tiny: {ignore_identical_ids: false}\n"))
    assert matrix.k == 100 and type(matrix.k) is int and matrix.bonferroni is False and matrix.datasets[0].ignore_identical_ids is False


@pytest.mark.parametrize("name, output", [("matrix.csv", None), ("board.md", "board")])
def test_a_report_that_would_overwrite_the_matrix_file_is_refused_before_any_work(tmp_path, capsys, name, output):
    matrix = write_matrix(tmp_path, "datasets:\n  tinyset: {}\n")
    matrix = matrix.rename(matrix.with_name(name))
    written = matrix.read_text()
    options = ["--output", str(matrix.parent / output)] if output else []
    assert main(["leaderboard", str(matrix), "--out-dir", str(tmp_path / "out"), "--quiet", *options]) == 2
    assert f"lsr: error: {matrix}: the leaderboard's report {matrix} would overwrite this matrix file" in capsys.readouterr().err
    assert matrix.read_text() == written and not (tmp_path / "out").exists()


def test_the_repository_matrix_loads():
    matrix = Matrix.load(REPO / "eval" / "leaderboard.yaml")
    assert {"bm25", "splade-tiny", "inference-free", "inference-free-trained", "minilm"} <= set(matrix.systems)
    assert matrix.datasets[0].name == "scifact" and matrix.datasets[0].expected["bm25"].expected == pytest.approx(0.6789)


def test_check_names_the_moved_cell_and_passes_within_tolerance(tmp_path, capsys):
    write_beir(tmp_path / "data" / "tinyset")
    pinned = write_matrix(tmp_path, f"datasets:\n  tinyset:\n    expected: {{bm25: {TINY_BM25}}}\n")
    assert leaderboard(tmp_path, str(pinned), "--check") == 0
    assert "tinyset/bm25: nDCG@10 1.0000, expected 1.0000 ± 0.002 (pass)" in capsys.readouterr().out
    moved = write_matrix(tmp_path, f"datasets:\n  tinyset:\n    expected: {{bm25: {{nDCG@10: {TINY_BM25 - 0.01}, tolerance: 0.005}}}}\n")
    assert leaderboard(tmp_path, str(moved), "--check") == 1  # the run is reused; the pin moved
    err = capsys.readouterr().err
    assert "--check: tinyset/bm25: nDCG@10 1.0000, expected 0.9900 ± 0.005 (MOVED)" in err
    assert leaderboard(tmp_path, str(moved)) == 0  # without --check: reported, not fatal


def test_a_run_is_reused_until_its_index_is_rebuilt(tmp_path):
    """Same recipe and corpus, but a rebuilt index (new code, a new model or ONNX export) must be searched again."""
    import json
    import shutil

    write_beir(tmp_path / "data" / "tinyset")
    matrix = write_matrix(tmp_path, "datasets:\n  tinyset: {}\n")
    meta = tmp_path / "out" / "runs" / "tinyset" / "test" / "bm25.json"
    assert leaderboard(tmp_path, str(matrix)) == 0
    first = json.loads(meta.read_text())
    assert leaderboard(tmp_path, str(matrix)) == 0
    assert json.loads(meta.read_text()) == first  # reused: the same measurements
    shutil.rmtree(tmp_path / "out" / "indexes" / "tinyset" / "bm25")
    assert leaderboard(tmp_path, str(matrix)) == 0
    again = json.loads(meta.read_text())
    assert again["key"]["index"] == first["key"]["index"] and again["key"]["build"] != first["key"]["build"]


def test_a_full_run_writes_the_summary_table_between_the_readme_markers(tmp_path):
    from lsr.eval.report import SUMMARY_BEGIN, SUMMARY_END

    write_beir(tmp_path / "data" / "tinyset")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{SUMMARY_BEGIN}\nold table\n{SUMMARY_END}\n\nafter\n", encoding="utf-8")
    matrix = write_matrix(tmp_path, "summary: {file: ../README.md, dataset: tinyset, systems: [bm25]}\ndatasets:\n  tinyset: {}\n")
    assert leaderboard(tmp_path, str(matrix), "--systems", "bm25") == 0  # a narrowed run leaves the README alone
    assert "old table" in readme.read_text()
    assert leaderboard(tmp_path, str(matrix)) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# title\n\n") and text.endswith(f"{SUMMARY_END}\n\nafter\n")
    assert "| BM25 | 1.0000 | " in text and "tinyset test, 5 queries; from [board.md](board.md)." in text
    readme.write_text("no markers\n", encoding="utf-8")
    board = tmp_path / "board.md"
    board.unlink()
    with pytest.raises(LsrError, match="the leaderboard summary goes between the lines"):
        from lsr.eval.report import write_leaderboard

        write_leaderboard(matrix, data_dir=str(tmp_path / "data"), out_dir=tmp_path / "out", output=tmp_path / "board", threads=1, progress=False)
    assert readme.read_text() == "no markers\n" and not board.exists()  # refused before any work


@pytest.mark.parametrize("summary, message", [
    ("[bm25]", "summary must be {file, dataset, systems: \\[names\\]}"),
    ("{file: R.md, dataset: other, systems: [bm25]}", "summary.dataset 'other' is not one of the datasets"),
    ("{file: R.md, dataset: tinyset, systems: [splade]}", "summary.systems: no such system.s. splade"),
])
def test_a_bad_summary_is_refused_naming_what(tmp_path, summary, message):
    with pytest.raises(LsrError, match=message):
        Matrix.load(write_matrix(tmp_path, f"summary: {summary}\ndatasets:\n  tinyset: {{}}\n"))


def test_check_never_passes_vacuously(tmp_path, capsys, monkeypatch):
    matrix = write_matrix(tmp_path, "datasets:\n  absent:\n    expected: {bm25: 0.5}\n")
    (tmp_path / "data").mkdir()
    assert leaderboard(tmp_path, str(matrix), "--check") == 1
    err = capsys.readouterr().err
    assert "no pinned cell was checked" in err
    assert leaderboard(tmp_path, str(matrix), "--check", "--datasets", "absent") == 1
    assert "absent/bm25: not available: absent is not in the data root (--download" in capsys.readouterr().err
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "irds"))
    assert leaderboard(tmp_path, str(matrix), "--check", "--download") == 1  # no such BEIR dataset anywhere
    assert "absent/bm25: not available: dataset 'absent' not found" in capsys.readouterr().out


def test_a_system_with_a_model_per_dataset_indexes_each_dataset_with_its_own(tmp_path):
    """``encoder: ../models/{dataset}`` (as lsr adapt makes them): each dataset's own model; a dataset without one is "not built"."""
    from lsr.encoders.names import resolve_model
    from lsr.index.manifest import read_manifest

    for name in ("one", "two"):
        write_beir(tmp_path / "data" / name)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "one").symlink_to(resolve_model("splade-tiny"), target_is_directory=True)
    matrix = write_matrix(tmp_path, f"  own:\n    recipe: {REPO / 'indexing' / 'inference-free.yaml'}\n    encoder: ../models/{{dataset}}\n"
                                    "datasets:\n  one: {}\n  two: {}\n")
    assert leaderboard(tmp_path, str(matrix)) == 0
    rows = {(r["dataset"], r["system"]): r for r in csv.DictReader(open(tmp_path / "board.csv", encoding="utf-8"))}
    assert rows["one", "own"]["status"] == "ok" and 0 < float(rows["one", "own"]["nDCG@10"]) <= 1
    assert rows["two", "own"]["status"] == f"not built: {tmp_path / 'models' / 'two'} is missing" and rows["two", "bm25"]["status"] == "ok"
    manifest = read_manifest(tmp_path / "out" / "indexes" / "one" / "own")
    assert Path(manifest["recipe"]["encoder"]) == tmp_path / "models" / "one"
    with pytest.raises(LsrError, match=r"system 'own': encoder '../models/\{corpus\}' may hold \{dataset\} and no other braces"):
        Matrix.load(write_matrix(tmp_path, f"  own: {{recipe: {REPO / 'indexing' / 'bm25.yaml'}, encoder: '../models/{{corpus}}'}}\n"
                                           "datasets:\n  one: {}\n"))


def test_problems_of_a_run():
    matrix = Matrix(Path("m.yaml"), {}, [], requested_systems=("trained",))
    cells = [Cell("d", "test", "bm25", "BM25", scores={"nDCG@10": 0.5}, pin=Pin(0.5, 0.002)),
             Cell("d", "test", "splade", "SPLADE", scores={"nDCG@10": 0.4}, pin=Pin(0.41, 0.002)),
             Cell("d", "test", "trained", "trained", status="not built: model is missing", pin=Pin(0.6, 0.002))]
    problems = Leaderboard(matrix, cells).problems()
    assert problems == ["d/splade: nDCG@10 0.4000, expected 0.4100 ± 0.002 (MOVED)",
                        "d/trained: not built: model is missing (requested explicitly)"]
    assert [c.check for c in cells] == ["pass", "MOVED", "not checked"]


def test_a_new_dataset_runs_through_the_whole_matrix(tmp_path, capsys):
    """A BEIR-layout folder dropped into the data root under a new name: every system of eval/leaderboard.yaml runs on it."""
    write_beir(tmp_path / "data" / "brand-new")
    assert leaderboard(tmp_path, str(REPO / "eval" / "leaderboard.yaml"), "--datasets", "brand-new") == 0
    rows = list(csv.DictReader(open(tmp_path / "board.csv", encoding="utf-8")))
    matrix = Matrix.load(REPO / "eval" / "leaderboard.yaml")
    assert [r["system"] for r in rows] == list(matrix.systems)
    ran = {r["system"]: r for r in rows if r["status"] == "ok"}
    # systems whose trained model is absent (a fresh clone has none) are "not built", with no number
    missing = {name for name, system in matrix.systems.items() if system.missing("brand-new")}
    assert set(matrix.systems) - set(ran) == missing
    for row in rows:
        if row["system"] in missing:
            assert row["status"].startswith("not built") and row["nDCG@10"] == ""
    assert all(0 < float(r["nDCG@10"]) <= 1 and r["p50_ms_k10"] and r["index_mb"] for r in ran.values())
    assert float(ran["bm25"]["nDCG@10"]) == pytest.approx(TINY_BM25)
    assert ran["splade-tiny"]["flops"] and ran["inference-free"]["avg_query_terms"] and ran["minilm"]["flops"] == ""
    page = (tmp_path / "board.md").read_text(encoding="utf-8")
    assert "## brand-new (test, 5 queries)" in page and "![nDCG@10 against latency and FLOPS](board.png)" in page
    assert (tmp_path / "board.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.scifact
def test_scifact_bm25_matches_its_pin(tmp_path, capsys):
    """CI's quick leaderboard check: SciFact BM25 against the pinned cell of eval/leaderboard.yaml."""
    code = main(["leaderboard", str(REPO / "eval" / "leaderboard.yaml"), "--check", "--datasets", "scifact", "--systems", "bm25",
                 "--out-dir", str(tmp_path / "out"), "--output", str(tmp_path / "board"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scifact/bm25: nDCG@10 0.6789, expected 0.6789 ± 0.002 (pass)" in out


@pytest.mark.scifact
def test_bm25_channel_beats_bm25_on_every_dataset_at_its_pins(tmp_path, capsys):
    """The pinned cells of BM25 and of inference-free + BM25 channel on every dataset of the data root,
    and the channel above BM25 on each (the leaderboard's own numbers, not restated here)."""
    import csv

    datasets = ("scifact", "cranfield", "cisi", "cacm")
    code = main(["leaderboard", str(REPO / "eval" / "leaderboard.yaml"), "--check", "--datasets", ",".join(datasets),
                 "--systems", "bm25,inference-free-bm25", "--out-dir", str(tmp_path / "out"), "--output", str(tmp_path / "board"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    with open(tmp_path / "board.csv", encoding="utf-8") as handle:
        rows = {(r["dataset"], r["system"]): float(r["nDCG@10"]) for r in csv.DictReader(handle)}
    assert all(rows[d, "inference-free-bm25"] > rows[d, "bm25"] for d in datasets), rows
