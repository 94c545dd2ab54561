"""The `lsr` command line: help, errors with exit status 2, and the commands on the tiny corpus."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from lsr.cli import COMMANDS, main
from lsr.eval.matrix import Matrix
from lsr.eval.report import regenerate_command


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


def test_idf_command_refuses_an_empty_corpus_and_a_folder_as_output(tiny, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["idf", str(empty), "-o", str(tmp_path / "idf.json"), "--quiet"]) == 2
    assert "no documents" in capsys.readouterr().err and not (tmp_path / "idf.json").exists()
    assert main(["idf", str(tiny.root), "-o", str(tmp_path), "--quiet"]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_evaluate_writes_runs_and_results(tiny, tmp_path, capsys):
    recipe = tmp_path / "eval" / "tiny.yaml"
    recipe.parent.mkdir()
    (tmp_path / "indexing").mkdir()
    (tmp_path / "indexing" / "bm25.yaml").write_text("name: bm25\nencoder: bm25\n")
    recipe.write_text(f"dataset: {tiny.root}\nsplit: test\nsystems: [../indexing/bm25.yaml]\n")
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


@pytest.mark.parametrize("make", ["folder", "file", "recipe name"])
def test_index_never_destroys_what_is_not_an_lsr_index(tiny, tmp_path, capsys, make):
    output, recipe = tmp_path / "output", "indexing/bm25.yaml"
    if make == "folder":
        output.mkdir()
        (output / "thesis.tex").write_text("years of work")
    elif make == "file":
        output.write_text("years of work")
    else:
        recipe, output = tmp_path / "recipes" / "escape.yaml", tmp_path / "out" / "indexes" / "tiny" / "x"
        recipe.parent.mkdir()
        recipe.write_text("name: ../../../thesis\n")
        (tmp_path / "thesis").mkdir()
        (tmp_path / "thesis" / "thesis.tex").write_text("years of work")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    argv = ["index", str(recipe), "--dataset", str(tiny.root), "--out-dir", str(tmp_path / "out"), "--quiet"]
    assert main(argv + (["--output", str(output)] if make != "recipe name" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("lsr: error:") and len(err.splitlines()) == 1
    assert {"folder": "is not an lsr index", "file": "is not a folder", "recipe name": "a name must be a plain file name"}[make] in err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


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
    # a library that logs through the root logger gives it a stderr handler; lsr's lines still appear once
    root_handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(root_handler)
    try:
        assert main(["idf", "corpus", "--quiet"]) == 0
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert capsys.readouterr().err == "careful\n"


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "lsr.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: lsr" in out.stdout


def test_option_values_are_checked_before_any_work(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["tune-fusion", "indexing/bm25.yaml", "--dataset", "scifact", "--depths", "10,x"])
    assert exit.value.code == 2 and "argument --depths: cannot read '10,x' as a comma list of int values" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tune-fusion", "indexing/bm25.yaml", "--dataset", "scifact", "--rrf-ks", ","])
    assert "argument --rrf-ks: give at least one value" in capsys.readouterr().err
    assert main(["adapt", "scifact", "--queries", "0"]) == 2
    assert "--queries must be positive, got 0" in capsys.readouterr().err
    assert main(["train", "training/minilm-scifact.yaml", "--resume"]) == 2
    assert "--resume: dense training runs in one go" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["search", "out/x", "aspirin", "-k", "0"], "argument -k: expected a whole number of at least 1, got '0'"),
    (["evaluate", "--threads", "0"], "argument --threads: expected a whole number of at least 1, got '0'"),
    (["index", "indexing/bm25.yaml", "--dataset", "x", "--threads", "-2"], "argument --threads: expected a whole number of at least 1, got '-2'"),
    (["evaluate", "--threads", "two"], "argument --threads: expected a whole number of at least 1, got 'two'"),
    (["search", "out/x", "aspirin", "--query-top-k", "0"], "argument --query-top-k: expected a whole number of at least 1, got '0'"),
    (["evaluate-model", "splade-tiny", "--doc-max-length", "0"], "argument --doc-max-length: expected a whole number of at least 1, got '0'"),
])
def test_counts_below_one_are_refused_before_any_work(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2 and expected in capsys.readouterr().err


@pytest.mark.parametrize("recipe, expected", [
    ("indexing/bm25.yaml", "recipe 'bm25': vectors_from reuses the encoded vectors of an impact index; a BM25 index encodes none"),
    ("indexing/minilm.yaml", "--vectors-from reuses the vectors of an impact index for a sparse recipe; 'minilm' is a DenseRecipe"),
])
def test_vectors_from_on_a_recipe_that_encodes_no_impact_vectors_is_refused_not_ignored(tiny, tmp_path, capsys, recipe, expected):
    argv = ["index", recipe, "--dataset", str(tiny.corpus_path.parent), "--output", str(tmp_path / "x"), "--vectors-from", str(tmp_path / "v")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"lsr: error: {expected}\n" and not (tmp_path / "x").exists()


def test_ablate_writes_its_table_under_the_output_folder(tmp_path, monkeypatch, capsys):
    from lsr.training import ablation

    seen = {}

    def run(recipe, split, only, overrides, out_dir, data_dir, threads, progress):
        seen.update(split=split, only=only, overrides=overrides, out_dir=out_dir)
        return [{"variant": "default", "nDCG@10": 0.5}]

    monkeypatch.setattr(ablation, "run_ablation", run)
    monkeypatch.setattr(ablation, "plot_learning_curves", lambda rows, out_dir, path: path.write_bytes(b""))
    assert main(["ablate", "training/ablation.yaml", "--only", "default", "--set", "epochs=1", "--out-dir", str(tmp_path), "--quiet"]) == 0
    assert seen == {"split": "test", "only": ["default"], "overrides": {"epochs": 1}, "out_dir": tmp_path}
    table = (tmp_path / "results" / "ablation-ablation.md").read_text()
    assert table.startswith("# Ablation training/ablation.yaml on the test split (overrides: {'epochs': 1})") and "| default | 0.5 |" in table
    assert capsys.readouterr().out == table + "\n"


def test_a_narrowed_leaderboard_page_names_the_command_that_regenerates_it():
    matrix = Matrix(Path("m.yaml"), {}, [])
    assert regenerate_command(matrix) == "make leaderboard"
    assert regenerate_command(Matrix(Path("m.yaml"), {}, [], requested_datasets=("a", "b"))) == "lsr leaderboard --datasets a,b"
    assert (regenerate_command(Matrix(Path("m.yaml"), {}, [], requested_datasets=("a",), requested_systems=("bm25",)))
            == "lsr leaderboard --datasets a --systems bm25")


@pytest.mark.parametrize("argv, expected", [
    (["index", "indexing/bm25.yaml", "--dataset", "x", "--threads", "100000"],
     "argument --threads: expected a whole number from 1 to 512, got '100000'"),
    (["evaluate", "no/such/recipe.yaml", "--threads", "513"], "argument --threads: expected a whole number from 1 to 512, got '513'"),
    (["evaluate-model", "splade-tiny", "--dataset", "no/such/dataset", "--threads", "9" * 30],
     "argument --threads: expected a whole number from 1 to 512"),
])
def test_thread_counts_beyond_the_maximum_are_refused_before_any_work(argv, expected, capsys):
    from lsr.cli.parser import build_parser

    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2 and expected in capsys.readouterr().err
    assert build_parser().parse_args(["evaluate", "--threads", "512"]).threads == 512


@pytest.mark.parametrize("k", ["2147483647", "2147483648", "1000000000000"])
def test_search_with_k_beyond_a_java_int_prints_every_hit(bm25_index, k, capsys):
    assert main(["search", str(bm25_index), "cancer", "risk", "-k", "1000"]) == 0
    every = capsys.readouterr().out
    assert main(["search", str(bm25_index), "cancer", "risk", "-k", k]) == 0
    assert capsys.readouterr().out == every and len(every.splitlines()) > 1


@pytest.mark.parametrize("index", ["", "/"])
def test_search_on_an_empty_or_root_path_is_not_an_lsr_index(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["search", index, "risk"]) == 2
    err = capsys.readouterr().err
    assert err == f"lsr: error: {index or repr('')} is not an lsr index: manifest.json is missing; give an index folder\n"


@pytest.mark.parametrize("weight", ["-1", "nan", "inf", "-inf"])
def test_evaluate_model_refuses_a_lexical_weight_that_is_not_a_finite_number_of_at_least_0(tiny, weight, capsys):
    assert main(["evaluate-model", "no-such-model", "--dataset", str(tiny.root), f"--lexical-weight={weight}", "--quiet"]) == 2
    assert capsys.readouterr().err == (f"lsr: error: lexical_weight (--lexical-weight) must be a finite number >= 0, got {float(weight)!r}\n")


@pytest.mark.parametrize("docs", [[], [("d1", "", ""), ("d2", "", "")]])
def test_evaluate_model_on_a_corpus_without_text_names_the_corpus(tmp_path, docs, capsys):
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "empty", docs=docs, queries={"q1": "aspirin"}, qrels={"q1": {"d1": 1}})
    assert main(["evaluate-model", "no-such-model", "--dataset", str(root), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"lsr: error: {root / 'corpus.jsonl'}: no document has any text (title or body), so there is "
                                       "nothing to search; give a corpus with documents\n")


@pytest.mark.parametrize("heap", ["abc", "1k", "63m", "4gb", " 4g", "17t", "9" * 30 + "g"])
def test_a_java_heap_that_is_not_a_size_from_64m_to_16t_is_a_clear_error(heap, monkeypatch):
    from lsr.errors import LsrError
    from lsr.jvm.runtime import heap as java_heap

    monkeypatch.setenv("LSR_JAVA_HEAP", heap)
    with pytest.raises(LsrError) as error:
        java_heap()
    assert str(error.value) == (f"LSR_JAVA_HEAP={heap!r} is not a Java heap size from 64m to 16t: give a number and a unit k, m, g or t, "
                                "such as 512m or 4g")


@pytest.mark.parametrize("heap, expected", [("64m", "64m"), ("65536k", "65536k"), ("67108864", "67108864"), ("4G", "4G"), ("16t", "16t"),
                                            ("", "4g"), (None, "4g")])
def test_java_heap_sizes_java_takes_are_passed_as_given(heap, expected, monkeypatch):
    from lsr.jvm.runtime import heap as java_heap

    if heap is None:
        monkeypatch.delenv("LSR_JAVA_HEAP", raising=False)
    else:
        monkeypatch.setenv("LSR_JAVA_HEAP", heap)
    assert java_heap() == expected


def test_a_bad_java_heap_ends_the_command_with_one_line_before_java_starts(bm25_index):
    import os

    env = {**os.environ, "LSR_JAVA_HEAP": "abc"}
    out = subprocess.run([sys.executable, "-m", "lsr.cli", "search", str(bm25_index), "risk"], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1
    assert out.stderr.startswith("lsr: error: LSR_JAVA_HEAP='abc' is not a Java heap size from 64m to 16t")


@pytest.mark.parametrize("settings, expected", [
    ("split: ../../tiny/qrels/test\nsystems: [../indexing/bm25.yaml]", "split '../../tiny/qrels/test' must be a plain name"),
    ("k: 1.5\nsystems: [../indexing/bm25.yaml]", "k must be an integer >= 1, got 1.5"),
    ("systems: [../indexing/bm25.yaml, ../indexing/bm25b.yaml]", "systems ../indexing/bm25.yaml and ../indexing/bm25b.yaml are both named 'bm25'"),
])
def test_a_bad_evaluation_recipe_is_refused_before_any_work(tiny, tmp_path, capsys, settings, expected):
    """Nothing is built, searched or written: no run file lands outside runs/, no index is replaced by its namesake."""
    recipe = tmp_path / "eval" / "tiny.yaml"
    recipe.parent.mkdir()
    (tmp_path / "indexing").mkdir()
    (tmp_path / "indexing" / "bm25.yaml").write_text("name: bm25\nencoder: bm25\n")
    (tmp_path / "indexing" / "bm25b.yaml").write_text("name: bm25\nencoder: bm25\nk1: 3.0\n")
    recipe.write_text(f"dataset: {tiny.root}\n{settings}\n")
    assert main(["evaluate", str(recipe), "--out-dir", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lsr: error: {recipe}: ") and expected in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_lsrs_own_recipes_are_found_from_any_working_folder(tmp_path, monkeypatch):
    """``lsr adapt CORPUS`` outside the checkout used to fail on its default training/adapt.yaml; a path that exists here wins."""
    from lsr.cli.parser import build_parser
    from lsr.recipe_files import LSR_ROOT

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["adapt", "corpus"])
    assert (args.recipe, args.index_recipe) == (str(LSR_ROOT / "training" / "adapt.yaml"), str(LSR_ROOT / "indexing" / "inference-free-bm25.yaml"))
    assert build_parser().parse_args(["leaderboard"]).matrix == str(LSR_ROOT / "eval" / "leaderboard.yaml")
    (tmp_path / "indexing").mkdir()
    (tmp_path / "indexing" / "bm25.yaml").write_text("encoder: bm25\n")
    assert build_parser().parse_args(["index", "indexing/bm25.yaml", "--dataset", "d"]).recipe == "indexing/bm25.yaml"  # the user's own
    assert build_parser().parse_args(["index", "missing.yaml", "--dataset", "d"]).recipe == "missing.yaml"  # named as given in the error


def test_index_needs_only_a_corpus(tiny, tmp_path, capsys):
    corpus = tmp_path / "corpus-only"
    corpus.mkdir()
    (corpus / "corpus.jsonl").write_bytes((tiny.root / "corpus.jsonl").read_bytes())
    assert main(["index", "indexing/bm25.yaml", "--dataset", str(corpus), "--output", str(tmp_path / "bm25"), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'bm25'}: bm25, 11 documents")
