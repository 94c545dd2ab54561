"""The `lsr` command line: help, errors with exit status 2, and the commands on the tiny corpus."""

import json
import logging
import subprocess
import sys

import pytest

from lsr.cli import COMMANDS, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    for command in ("index", "search", "evaluate", "idf", "LSR_DATA_DIR"):
        assert command in out


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["search", str(tmp_path), "aspirin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lsr: error:") and "not an lsr index" in err and len(err.splitlines()) == 1
    assert main(["index", "indexing/bm25.yaml", "--dataset", str(tmp_path / "missing"), "--data-dir", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_search_prints_ranked_hits(bm25_index, capsys):
    assert main(["search", str(bm25_index), "smoking", "lung", "cancer", "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "1" and lines[0].split()[2] == "d3"


def test_idf_command_writes_a_table(tiny, tmp_path):
    output = tmp_path / "idf.json"
    assert main(["idf", str(tiny.root), "-o", str(output), "--quiet"]) == 0
    table = json.loads(output.read_text())
    assert table["sleep"] > table["cancer"] > 0


def test_evaluate_writes_runs_and_results(tiny, tmp_path, capsys):
    recipe = tmp_path / "eval" / "tiny.yaml"
    recipe.parent.mkdir()
    (tmp_path / "indexing").mkdir()
    (tmp_path / "indexing" / "bm25.yaml").write_text("name: bm25\nencoder: bm25\n")
    recipe.write_text(f"dataset: {tiny.root}\nsplit: test\nsystems: [indexing/bm25.yaml]\n")
    out = tmp_path / "out"
    assert main(["evaluate", str(recipe), "--out-dir", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "| bm25 |" in printed and "nDCG@10" in printed
    rows = json.loads((out / "results" / "tiny-test.json").read_text())
    assert rows[0]["system"] == "bm25" and rows[0]["MRR@10"] > 0.5
    assert (out / "runs" / "tiny" / "test" / "bm25.trec").read_text().startswith("q1 Q0 d1 1 ")
    built = (out / "indexes" / "tiny" / "bm25" / "manifest.json").stat().st_mtime
    assert main(["evaluate", str(recipe), "--out-dir", str(out), "--quiet"]) == 0  # reuses the index
    assert (out / "indexes" / "tiny" / "bm25" / "manifest.json").stat().st_mtime == built


def test_library_warnings_go_to_stderr_even_when_quiet(tiny, tmp_path, capsys):
    output = tmp_path / "bm25"
    assert main(["index", "indexing/bm25.yaml", "--dataset", str(tiny.root), "--output", str(output), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{output}: bm25, 11 documents") and len(out.splitlines()) == 1
    assert err == "bm25: skipped 1 empty document(s), e.g. 'd9'\n"


def test_quiet_keeps_only_warnings_and_turns_off_transformers_progress_bars(monkeypatch, capsys):
    from transformers.utils import logging as hf_logging

    bars, before = [], hf_logging.is_progress_bar_enabled()

    def command(args):
        logging.getLogger("lsr.some.module").info("step 1")
        logging.getLogger("lsr.some.module").warning("careful")
        bars.append(hf_logging.is_progress_bar_enabled())

    monkeypatch.setitem(COMMANDS, "idf", command)
    assert main(["idf", "corpus"]) == 0
    assert capsys.readouterr().err == "step 1\ncareful\n"
    assert main(["idf", "corpus", "--quiet"]) == 0
    assert capsys.readouterr().err == "careful\n"
    assert bars == [before, False] and hf_logging.is_progress_bar_enabled() == before


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "lsr.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: lsr" in out.stdout
