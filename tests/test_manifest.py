"""The one writer of ``manifest.json``: what it checks, what it writes, and the size's old name; what a build may replace."""

import json
import re

import pytest

from lsr.errors import LsrError
from lsr.index.manifest import MANIFEST, building, index_bytes, read_manifest, write_manifest


def test_written_manifest_reads_back(tmp_path):
    manifest = {"kind": "dense", "num_docs": 3, "corpus": {"path": "c.jsonl", "sha256": "ab"}, "skipped_empty": [], "index_bytes": 10}
    write_manifest(tmp_path, manifest)
    written = read_manifest(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{32}", written.pop("build_id"))  # each build gets its own
    assert written == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]
    (tmp_path / "again").mkdir()
    write_manifest(tmp_path / "again", manifest)
    assert read_manifest(tmp_path / "again")["build_id"] != read_manifest(tmp_path)["build_id"]
    rewritten = read_manifest(tmp_path)
    write_manifest(tmp_path, rewritten)  # rewriting a build's manifest keeps its id
    assert read_manifest(tmp_path) == rewritten


@pytest.mark.parametrize("manifest, key", [({"num_docs": 3}, "kind"), ({"kind": "splade", "num_docs": 3}, "kind"),
                                           ({"kind": "bm25"}, "num_docs"), ({"kind": "bm25", "num_docs": "3"}, "num_docs")])
def test_missing_or_bad_key_is_refused_and_nothing_is_left(tmp_path, manifest, key):
    with pytest.raises(LsrError, match=f"{tmp_path}.*'{key}'"):
        write_manifest(tmp_path, manifest)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_manifest(tmp_path):
    write_manifest(tmp_path, {"kind": "bm25", "num_docs": 1})
    with pytest.raises(TypeError):
        write_manifest(tmp_path, {"kind": "bm25", "num_docs": 2, "recipe": object()})
    assert read_manifest(tmp_path)["num_docs"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]


def test_old_size_name_is_read_but_not_written(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "impact", "num_docs": 1, "lucene_bytes": 2048}), encoding="utf-8")
    old = read_manifest(tmp_path)
    assert index_bytes(old) == 2048 and index_bytes({"kind": "hybrid", "num_docs": 1}) == 0
    write_manifest(tmp_path, old)
    written = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    assert written.pop("build_id") and written == {"kind": "impact", "num_docs": 1, "index_bytes": 2048}


def _folder_with(path, files: dict):
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("files, why", [
    ({"notes.txt": "mine"}, "is not an lsr index"),
    ({MANIFEST: '{"name": "another tool"}', "data.bin": "x"}, r"is not an lsr index \(its manifest.json is unreadable or names no kind of lsr's\)"),
    ({MANIFEST: "not json"}, r"is not an lsr index \(its manifest.json is unreadable or names no kind of lsr's\)"),
])
def test_a_build_never_replaces_a_folder_that_is_not_an_lsr_index(tmp_path, files, why):
    output = _folder_with(tmp_path / "out", files)
    with pytest.raises(LsrError, match=f"{output} exists and {why}: lsr replaces only its own"):
        with building(output):
            pytest.fail("the build must not start")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and {p.name for p in output.iterdir()} == set(files)


def test_a_build_never_replaces_a_file(tmp_path):
    output = tmp_path / "index"
    output.write_text("precious")
    with pytest.raises(LsrError, match="exists and is not a folder"):
        with building(output):
            pytest.fail("the build must not start")
    assert output.read_text() == "precious" and sorted(p.name for p in tmp_path.iterdir()) == ["index"]


@pytest.mark.parametrize("existing", [None, {}, {MANIFEST: json.dumps({"kind": "bm25", "num_docs": 1}), "stale": "x"}])
def test_a_build_replaces_nothing_an_empty_folder_or_an_lsr_index(tmp_path, existing):
    output = tmp_path / "index"
    if existing is not None:
        _folder_with(output, existing)
    with building(output) as tmp:
        write_manifest(tmp, {"kind": "impact", "num_docs": 2})
    assert read_manifest(output)["kind"] == "impact" and sorted(p.name for p in tmp_path.iterdir()) == ["index"]
    assert sorted(p.name for p in output.iterdir()) == [MANIFEST]


def test_a_build_into_the_working_directory_is_refused_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(_folder_with(tmp_path / "work", {"notes.txt": "mine"}))
    with pytest.raises(LsrError, match="work exists and is not an lsr index"):
        with building("."):
            pytest.fail("the build must not start")


def test_models_are_replaced_only_by_models(tmp_path):
    from lsr.encoders.names import is_model_folder

    model = _folder_with(tmp_path / "model", {"modules.json": "[]", "old.bin": "x"})
    with building(model, is_model_folder, "a model folder") as tmp:
        (tmp / "modules.json").write_text("[]")
    assert sorted(p.name for p in model.iterdir()) == ["modules.json"]
    index = _folder_with(tmp_path / "index", {MANIFEST: json.dumps({"kind": "bm25", "num_docs": 1})})
    with pytest.raises(LsrError, match="is not a model folder"):
        with building(index, is_model_folder, "a model folder"):
            pytest.fail("the build must not start")
