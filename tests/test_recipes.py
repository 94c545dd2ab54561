"""Recipe files: one rule for paths (relative to the file's folder, whatever the working directory); every setting type- and range-checked."""

import logging
import os
import re
from dataclasses import asdict, is_dataclass
from pathlib import Path

import pytest

from lsr.errors import LsrError
from lsr.eval.evaluate import EvalRecipe
from lsr.eval.matrix import Matrix
from lsr.index.recipe import HybridRecipe, IndexRecipe, load_recipe
from lsr.recipe_files import name_or_path, resolve_relative
from lsr.training.ablation import AblationRecipe
from lsr.training.recipe import load_training_recipe

REPO = Path(__file__).resolve().parents[1]


def _strings(value):
    """Every string inside a loaded recipe, each with the absolute path it would name from the working directory."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): _strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strings(v) for v in value]
    if isinstance(value, (str, Path)):
        return (str(value), os.path.abspath(value))
    return value


def _same(a, b, where=""):
    """Names are equal as written; a path may be spelled differently from another working directory but names the same file."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str):
        assert a[0] == b[0] or a[1] == b[1], f"{where}: {a[0]!r} and {b[0]!r} name different files"
    else:
        assert a == b, where


def _load_everything() -> dict:
    """Every recipe of the repository, loaded through each loader, as strings and the paths they name from here."""
    loaded = {}
    for path in sorted((REPO / "indexing").glob("*.yaml")):
        recipe = load_recipe(path)
        loaded[f"indexing/{path.name}"] = _strings(recipe)
        if isinstance(recipe, HybridRecipe):
            loaded[f"indexing/{path.name}:path"] = _strings(recipe.path)
    for path in sorted((REPO / "training").glob("*.yaml")):
        if path.name == "ablation.yaml":
            ablation = AblationRecipe.load(path)
            loaded["training/ablation.yaml"] = _strings({"base": ablation.base, **{v: ablation.training_recipe(v) for v in ablation.variants}})
        else:
            loaded[f"training/{path.name}"] = _strings(load_training_recipe(path))
    evaluation = EvalRecipe.load(REPO / "eval" / "scifact.yaml")
    loaded["eval/scifact.yaml"] = _strings({"dataset": evaluation.dataset, "recipes": evaluation.index_recipes()})
    matrix = Matrix.load(REPO / "eval" / "leaderboard.yaml")
    loaded["eval/leaderboard.yaml"] = _strings({name: {"recipe": s.recipe, "requires": s.requires or "", "encoder": s.encoder or "",
                                                       "loaded": s.index_recipe("d")}
                                                for name, s in matrix.systems.items()})
    return loaded


def test_every_recipe_names_the_same_files_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    here = _load_everything()
    monkeypatch.chdir(tmp_path)
    elsewhere = _load_everything()
    assert here.keys() == elsewhere.keys()
    for name in here:
        _same(here[name], elsewhere[name], name)
    # the paths themselves: recipes, models built later and trained-model requirements, all from the files' folders
    matrix = Matrix.load(REPO / "eval" / "leaderboard.yaml")
    assert {s.recipe.resolve() for s in matrix.systems.values()} <= set((REPO / "indexing").glob("*.yaml"))
    assert Path(matrix.systems["minilm-scifact"].requires).resolve() == REPO / "out" / "models" / "minilm-scifact"
    assert Path(matrix.systems["adapted"].encoder.format(dataset="cisi")).resolve() == REPO / "out" / "adapt" / "cisi" / "model"
    models = REPO / "out" / "models"
    assert Path(load_recipe(REPO / "indexing" / "inference-free-trained.yaml").encoder).resolve() == models / "inference-free-ensemble"
    assert Path(load_recipe(REPO / "indexing" / "minilm-scifact.yaml").query_encoder).resolve() == models / "minilm-scifact"
    assert AblationRecipe.load(REPO / "training" / "ablation.yaml").base.resolve() == REPO / "training" / "inference-free-ensemble.yaml"
    assert Path(load_training_recipe(REPO / "training" / "minilm-scifact.yaml").document_index).resolve() == REPO / "indexing" / "minilm.yaml"
    assert len(EvalRecipe.load(REPO / "eval" / "scifact.yaml").index_recipes()) == 13


def test_recipes_without_model_folders_fingerprint_the_same_from_anywhere(tmp_path, monkeypatch):
    def fingerprints():
        return {p.name: load_recipe(p).fingerprint() for p in sorted((REPO / "indexing").glob("*.yaml"))}

    monkeypatch.chdir(REPO)
    here = fingerprints()
    monkeypatch.chdir(tmp_path)
    elsewhere = fingerprints()
    local_models = {"inference-free-trained.yaml", "minilm-scifact.yaml", "hybrid-bm25-minilmft.yaml", "hybrid-bm25-if-minilmft.yaml",
                    "minilm-scifact-onnx.yaml", "hybrid-bm25-minilmft-onnx.yaml", "minilm-static-scifact.yaml", "hybrid-bm25-static.yaml"}
    assert {name for name in here if here[name] != elsewhere[name]} <= local_models
    assert here["bm25.yaml"] == "7671b1f25a255593"  # the fingerprint of every BM25 index built so far


@pytest.mark.parametrize("built", [False, True])
def test_a_model_folder_fingerprints_as_when_it_was_read_from_the_working_directory(tmp_path, monkeypatch, built):
    """``../out/models/m`` in indexing/r.yaml, run from the project folder, hashes as ``out/models/m`` did: no index is rebuilt."""
    (tmp_path / "indexing").mkdir()
    (tmp_path / "indexing" / "r.yaml").write_text("name: r\nencoder: ../out/models/m\nquery_encoder: table\n")
    if built:
        (tmp_path / "out" / "models" / "m").mkdir(parents=True)
        (tmp_path / "out" / "models" / "m" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    recipe = IndexRecipe.load(tmp_path / "indexing" / "r.yaml")
    assert recipe.encoder == "out/models/m"
    assert recipe.fingerprint() == IndexRecipe(name="r", encoder="out/models/m", query_encoder="table").fingerprint()
    monkeypatch.chdir(tmp_path / "indexing")  # elsewhere the folder is named by its absolute path
    assert IndexRecipe.load("r.yaml").encoder == str(tmp_path / "out" / "models" / "m")


def test_names_stay_names_and_paths_are_relative_to_the_recipe(tmp_path, monkeypatch, caplog):
    recipe = tmp_path / "recipes" / "r.yaml"
    (tmp_path / "recipes" / "models" / "mine").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for name in ("splade-tiny", "inference-free-bm25-tiny", "naver/splade-v3", "all-MiniLM-L6-v2", "scifact", "cqadupstack/android", ""):
        assert name_or_path(recipe, name) == name
    assert name_or_path(recipe, None) is None
    assert name_or_path(recipe, "models/mine") == os.path.join("recipes", "models", "mine")  # exists beside the recipe
    assert name_or_path(recipe, "../out/models/later") == os.path.join("out", "models", "later")  # built later: ../ says it is a path
    assert name_or_path(recipe, "./x") == os.path.join("recipes", "x")
    assert name_or_path(recipe, "/abs/model") == "/abs/model"
    assert resolve_relative(recipe, "../indexing/bm25.yaml") == os.path.join("indexing", "bm25.yaml")
    assert resolve_relative(recipe, "/abs/r.yaml") == "/abs/r.yaml"
    (tmp_path / "out" / "models" / "old").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="lsr.recipe_files"):
        assert name_or_path(recipe, "out/models/old", "encoder") == "out/models/old"  # the old rule's spelling: a name, with a warning
    assert "relative to the recipe's folder" in caplog.text and "encoder" in caplog.text


IMPACT = "encoder: splade-tiny\nquery_encoder: idf\n"


@pytest.mark.parametrize("settings, field, expected", [
    ("k1: high", "k1", "a finite number >= 0, got 'high'"),
    ("k1: -5", "k1", "a finite number >= 0, got -5"),
    ("k1: .inf", "k1", "a finite number >= 0, got inf"),
    ("b: 1.5", "b", "a finite number in [0, 1], got 1.5"),
    ("b: .nan", "b", "a finite number in [0, 1], got nan"),
    (IMPACT + "doc_scale: 1.0e12x", "doc_scale", "a finite number > 0, got '1.0e12x'"),
    (IMPACT + "doc_max_length: 1e2", "doc_max_length", "an integer >= 1, got '1e2' (a string: YAML reads a number in exponent form as a number "
                                                   "only with a dot and a signed exponent, e.g. 1.0e+2)"),
    (IMPACT + "query_scale: 0", "query_scale", "a finite number > 0, got 0"),
    (IMPACT + "doc_max_length: 0", "doc_max_length", "an integer >= 1, got 0"),
    (IMPACT + "doc_max_length: -3", "doc_max_length", "an integer >= 1, got -3"),
    (IMPACT + "query_max_length: 32.5", "query_max_length", "an integer >= 1, got 32.5"),
    (IMPACT + "batch_size: 0", "batch_size", "an integer >= 1, got 0"),
    (IMPACT + "batch_size: -4", "batch_size", "an integer >= 1, got -4"),
    (IMPACT + "batch_size: '32'", "batch_size", "an integer >= 1, got '32' (a string: write it without quotes)"),
    (IMPACT + "doc_top_k: 2.5", "doc_top_k", "an integer >= 1 or empty, got 2.5"),
    (IMPACT + "doc_top_k: true", "doc_top_k", "an integer >= 1 or empty, got True"),
    (IMPACT + "doc_min_ratio: 2", "doc_min_ratio", "a finite number in [0, 1], got 2"),
    (IMPACT + "query_min_ratio: half", "query_min_ratio", "a finite number in [0, 1], got 'half'"),
    (IMPACT + "query_max_df: 0", "query_max_df", "a finite number in (0, 1], got 0"),
    (IMPACT + "lexical_weight: -1", "lexical_weight", "a finite number >= 0, got -1"),
    ("kind: dense\nmax_length: 0", "max_length", "an integer >= 1 or empty, got 0"),
    ("kind: dense\nbatch_size: 0", "batch_size", "an integer >= 1, got 0"),
    ("kind: dense\nhnsw_m: 2.5", "hnsw_m", "an integer >= 1, got 2.5"),
    ("kind: dense\nef_search: -1", "ef_search", "an integer >= 1, got -1"),
    ("kind: dense\nef_construction: 1e3", "ef_construction", "an integer >= 1, got '1e3' (a string: YAML reads a number in exponent form"),
])
def test_recipe_numbers_are_checked_naming_the_field_and_the_file(tmp_path, settings, field, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(settings + "\n")
    with pytest.raises(LsrError) as error:
        load_recipe(path)
    assert str(error.value).startswith(f"{path}: recipe 'bad': {field} must be {expected}") and "\n" not in str(error.value)


def test_a_setting_given_twice_is_refused_naming_it_and_its_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(IMPACT + "doc_top_k: 10\nlexical_weight: 4\ndoc_top_k: 50\n")
    with pytest.raises(LsrError) as error:
        load_recipe(path)
    lines = IMPACT.count("\n")
    assert str(error.value) == f"cannot read recipe {path}: setting 'doc_top_k' is given twice (lines {lines + 1} and {lines + 3}); keep one"


@pytest.mark.parametrize("content, expected", [
    (b"k1: [0.9\n", "line 2, column 1: while parsing a flow sequence; expected ',' or ']', but got '<stream end>'"),
    (b"k1:\t0.9\n\tb: 1\n", "line 1, column 4: while scanning for the next token; found character '\\t' that cannot start any token"),
    (b"k1: !!python/object/apply:os.system ['true']\n", "line 1, column 5: could not determine a constructor for the tag"),
    (b"name: caf\xe9\n", "not valid UTF-8 (byte 9: b'\\xe9\\n')"),
])
def test_a_recipe_that_is_not_yaml_or_not_utf8_is_one_line_naming_the_file_and_where(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    for load in (load_recipe, load_training_recipe):
        with pytest.raises(LsrError) as error:
            load(path)
        assert str(error.value).startswith(f"cannot read recipe {path}: {expected}") and "\n" not in str(error.value)


@pytest.mark.parametrize("settings", ["k1: 0\nb: 0", "k1: 2\nb: 1", IMPACT + "doc_scale: 1.0e+3\ndoc_top_k: 1\nquery_max_df: 1",
                                      "kind: dense\nmax_length: 128\nhnsw_m: 1"])
def test_numbers_at_the_edges_of_their_ranges_are_accepted(tmp_path, settings):
    path = tmp_path / "edge.yaml"
    path.write_text(settings + "\n")
    load_recipe(path)


@pytest.mark.parametrize("settings, field, value", [
    (IMPACT + "doc_scale: 1.0e12", "doc_scale", 1e12),  # a string to YAML 1.1, but exactly a number
    (IMPACT + "doc_scale: 1e2", "doc_scale", 100.0),
    (IMPACT + "doc_max_length: 128.0", "doc_max_length", 128),
    ("kind: dense\nhnsw_m: 16.0", "hnsw_m", 16),
])
def test_index_recipe_numbers_that_are_exactly_numbers_are_read_as_their_fields_type(tmp_path, settings, field, value):
    """The same rule as training recipes (lsr.recipe_files.check_numbers): 128.0 is an integer, 1e2 a real number."""
    path = tmp_path / "ok.yaml"
    path.write_text(settings + "\n")
    loaded = getattr(load_recipe(path), field)
    assert loaded == value and type(loaded) is type(value)


@pytest.mark.parametrize("settings, expected", [
    ("encoder: 5", "encoder must be a string, got 5"),
    ("kind: dense\nnormalize: 'yes'", "normalize must be true or false, got 'yes'"),
    ("kind: dense\nquery_prompt: [a]", "query_prompt must be a string, got ['a']"),
])
def test_recipe_strings_and_flags_are_type_checked(tmp_path, settings, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(settings + "\n")
    with pytest.raises(LsrError, match=re.escape(f"{path}: recipe 'bad': {expected}")):
        load_recipe(path)


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".", "a\\\\b", "''", "5", "x..y"])
@pytest.mark.parametrize("kind", ["", "kind: dense\n"])
def test_a_recipe_name_must_be_a_plain_file_name(tmp_path, name, kind):
    path = tmp_path / "bad.yaml"
    path.write_text(f"{kind}name: {name}\n")
    with pytest.raises(LsrError, match=f"^{re.escape(str(path))}: recipe name .*: a name must be a plain file name"):
        load_recipe(path)


BM25 = str(REPO / "indexing" / "bm25.yaml")


@pytest.mark.parametrize("settings, expected", [
    ("k: ten", "k must be an integer >= 1, got 'ten'"),
    ("k: 1.5", "k must be an integer >= 1, got 1.5"),
    ("k: 0", "k must be an integer >= 1, got 0"),
    ("k: true", "k must be an integer >= 1, got True"),
    ("systems: [5]", "systems must be a list of index recipe paths, got [5]"),
    (f"systems: {BM25}", f"systems must be a list of index recipe paths, got '{BM25}'"),
    ("dataset: null", "dataset must be a string, got None"),
    ("dataset: [tiny]", "dataset must be a string, got ['tiny']"),
    ("split: ../../tiny/qrels/test", "split '../../tiny/qrels/test' must be a plain name (no '/', '\\', '..' or NUL; not empty), e.g. test or dev"),
    ("split: 5", "split 5 must be a plain name"),
    ("split: '..'", "split '..' must be a plain name"),
    ("ignore_identical_ids: 'false'", "ignore_identical_ids must be true or false, got 'false' (a string: write true or false without quotes)"),
    ("ignore_identical_ids: 0", "ignore_identical_ids must be true or false, got 0"),
])
def test_evaluation_recipe_settings_are_checked_naming_the_field_and_the_file(tmp_path, settings, expected):
    path = tmp_path / "bad.yaml"
    defaults = {"dataset": "dataset: tiny", "systems": f"systems: [{BM25}]"}
    defaults.pop(settings.partition(":")[0], None)
    path.write_text("\n".join([*defaults.values(), settings]) + "\n")
    with pytest.raises(LsrError) as error:
        EvalRecipe.load(path)
    assert str(error.value).startswith(f"{path}: recipe 'bad': {expected}") and "\n" not in str(error.value)


def test_evaluation_recipe_k_that_is_exactly_an_integer_is_read_as_one(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(f"dataset: tiny\nsystems: [{BM25}]\nk: 100.0\nignore_identical_ids: false\n")
    recipe = EvalRecipe.load(path)
    assert recipe.k == 100 and type(recipe.k) is int and recipe.ignore_identical_ids is False


@pytest.mark.parametrize("systems, expected", [
    ("[bm25.yaml, bm25b.yaml]", "systems bm25.yaml and bm25b.yaml are both named 'bm25': they would write one index folder and one run file"),
    ("[bm25.yaml, bm25.yaml]", "systems bm25.yaml and bm25.yaml are both named 'bm25'"),
    ("[bm25b.yaml, hybrid.yaml]", "systems bm25b.yaml and hybrid.yaml both build an index named 'bm25', with other settings"),
])
def test_systems_that_would_share_an_index_or_a_run_file_are_refused_naming_both(tmp_path, systems, expected):
    (tmp_path / "bm25.yaml").write_text("name: bm25\nencoder: bm25\n")
    (tmp_path / "bm25b.yaml").write_text("name: bm25\nencoder: bm25\nk1: 3.0\n")
    (tmp_path / "hybrid.yaml").write_text(f"kind: hybrid\nsparse: bm25.yaml\ndense: {REPO / 'indexing' / 'minilm.yaml'}\n")
    path = tmp_path / "eval.yaml"
    path.write_text(f"dataset: tiny\nsystems: {systems}\n")
    with pytest.raises(LsrError, match=f"^{re.escape(f'{path}: {expected}')}"):
        EvalRecipe.load(path).index_recipes()


def test_a_hybrid_shares_its_components_indexes_with_the_systems_of_the_same_recipes(tmp_path):
    (tmp_path / "bm25.yaml").write_text("name: bm25\nencoder: bm25\n")
    (tmp_path / "hybrid.yaml").write_text(f"kind: hybrid\nsparse: bm25.yaml\ndense: {REPO / 'indexing' / 'minilm.yaml'}\n")
    path = tmp_path / "eval.yaml"
    path.write_text(f"dataset: tiny\nsystems: [bm25.yaml, hybrid.yaml, {REPO / 'indexing' / 'minilm.yaml'}]\n")
    assert [r.name for r in EvalRecipe.load(path).index_recipes()] == ["bm25", "hybrid", "minilm"]
