"""Faults: damaged index folders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from lsr.errors import LsrError
from lsr.eval.evaluate import ensure_index, index_path
from lsr.index.manifest import FAISS_FILE, LUCENE_DIR, MANIFEST, VECTORS
from lsr.index.recipe import DenseRecipe, IndexRecipe
from lsr.search import Searcher


def _manifest(index: Path, change) -> None:
    manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    (index / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _lucene_file(index: Path, suffix: str) -> Path:
    return next(p for p in (index / LUCENE_DIR).iterdir() if p.name.endswith(suffix))


DAMAGES = {
    "lucene folder missing": (lambda i: shutil.rmtree(i / LUCENE_DIR), "its Lucene folder lucene/ is missing"),
    "manifest truncated": (lambda i: _truncate(i / MANIFEST), "manifest.json cannot be read"),
    "manifest not JSON": (lambda i: (i / MANIFEST).write_text("kind: bm25", encoding="utf-8"), "manifest.json cannot be read"),
    "manifest a list": (lambda i: (i / MANIFEST).write_text("[]", encoding="utf-8"), "manifest.json holds a list, not a mapping"),
    "manifest without query": (lambda i: _manifest(i, lambda m: m.pop("query")), "manifest.json lacks query.k1, query.b"),
    "manifest of an unknown kind": (lambda i: _manifest(i, lambda m: m.update(kind="splade")), "manifest.json has 'kind' 'splade'"),
    "commit point missing": (lambda i: _lucene_file(i, "segments_1").unlink(), "holds no segments_N file"),
    "segment file missing": (lambda i: _lucene_file(i, ".si").unlink(), "Lucene cannot read lucene/ (CorruptIndexException"),
    "segment file truncated": (lambda i: _truncate(_lucene_file(i, ".tim")), "Lucene cannot read lucene/ (CorruptIndexException"),
    "stray commit point": (lambda i: (i / LUCENE_DIR / "segments_9").write_bytes(b"garbage"), "Lucene cannot read lucene/"),
}


@pytest.fixture
def damaged_copy(tmp_path):
    """``damaged_copy(index, damage)``: a copy of ``index`` under ``tmp_path``, damaged as ``DAMAGES[damage]`` says."""

    def copy(index: Path, damage: str, folder: Path | None = None) -> Path:
        target = folder or tmp_path / "index"
        shutil.copytree(index, target)
        DAMAGES[damage][0](target)
        return target

    return copy


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_sparse_index_is_a_clear_error_naming_the_folder(bm25_index, damaged_copy, damage):
    index = damaged_copy(bm25_index, damage)
    with pytest.raises(LsrError) as error:
        Searcher.open(index)
    message = str(error.value)
    assert message.startswith(f"{index}: a damaged lsr index: ") and DAMAGES[damage][1] in message and "\n" not in message
    assert "rebuild it" in message


@pytest.mark.parametrize("damage, expected", [
    (lambda i: (i / "query" / "idf.json").unlink(), "query/idf.json (the manifest's query.weights) is missing"),
    (lambda i: (i / "query" / "tokenizer.json").unlink(), "query/tokenizer.json (the manifest's query.tokenizer) is missing"),
])
def test_an_impact_index_missing_its_query_files_is_a_clear_error(if_index, tmp_path, damage, expected):
    index = tmp_path / "index"
    shutil.copytree(if_index, index)
    damage(index)
    with pytest.raises(LsrError, match=re.escape(f"{index}: a damaged lsr index: {expected}; rebuild it")):
        Searcher.open(index)


@pytest.mark.parametrize("damage, expected", [
    (lambda i: _truncate(i / VECTORS), "vectors.npy is .* bytes, not the .* its header announces"),
    (lambda i: (i / VECTORS).write_bytes(b"\x93NUMPY garbage"), "vectors.npy is not a readable numpy array"),
    (lambda i: _truncate(i / FAISS_FILE), "index.faiss is .* bytes, less than the .* its .* vectors need"),
    (lambda i: (i / "docids.json").unlink(), "docids.json is missing"),
    (lambda i: (i / "docids.json").write_text('["d1", "d2"', encoding="utf-8"), "docids.json cannot be read"),
    (lambda i: _manifest(i, lambda m: m["faiss"].pop("dim")), "manifest.json lacks faiss.dim"),
])
def test_a_damaged_dense_index_is_a_clear_error_naming_the_folder(dense_index, tmp_path, damage, expected):
    index = tmp_path / "index"
    shutil.copytree(dense_index, index)
    damage(index)
    with pytest.raises(LsrError, match=f"^{index}: a damaged lsr index: {expected}") as error:
        Searcher.open(index).search("aspirin", 3)
    assert "\n" not in str(error.value)


def test_an_unreadable_faiss_file_of_the_right_size_is_a_clear_error(dense_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(dense_index, index)
    (index / FAISS_FILE).write_bytes(b"\0" * (index / FAISS_FILE).stat().st_size)
    with Searcher.open(index) as searcher, pytest.raises(LsrError, match=f"^{index}: a damaged lsr index: faiss cannot read index.faiss"):
        searcher.search("aspirin", 3)


def test_stray_files_that_lucene_does_not_know_change_nothing(bm25_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(bm25_index, index)
    (index / LUCENE_DIR / "_9.cfs").write_bytes(b"garbage")
    (index / "notes.txt").write_text("mine", encoding="utf-8")
    with Searcher.open(bm25_index) as intact, Searcher.open(index) as copy:
        assert copy.search("aspirin cancer", 5) == intact.search("aspirin cancer", 5)


@pytest.mark.parametrize("damage", [*DAMAGES.keys() - {"manifest truncated", "manifest not JSON", "manifest a list",
                                                       "manifest of an unknown kind"},
                                    "without recipe_fingerprint", "without corpus"])
def test_an_evaluation_rebuilds_a_damaged_index_of_lsrs_instead_of_reusing_it(bm25_index, tiny, tmp_path, damaged_copy, damage, caplog):
    recipe = IndexRecipe(name="bm25")
    index = index_path(recipe, tiny, tmp_path)
    if damage.startswith("without"):
        shutil.copytree(bm25_index, index)
        _manifest(index, lambda m: m.pop(damage.split()[1]))
    else:
        damaged_copy(bm25_index, damage, index)
    assert ensure_index(recipe, tiny, tmp_path, threads=1, progress=False) == index
    assert "rebuilding: " in caplog.text and str(index) in caplog.text
    with Searcher.open(index) as searcher:
        assert searcher.search("aspirin cancer", 1)[0].docid == "d1"
    assert sorted(p.name for p in index.parent.iterdir()) == ["bm25"]


def test_an_intact_index_is_reused(bm25_index, tiny, tmp_path):
    index = index_path(IndexRecipe(name="bm25"), tiny, tmp_path)
    shutil.copytree(bm25_index, index)
    before = (index / MANIFEST).stat().st_mtime_ns
    ensure_index(IndexRecipe(name="bm25"), tiny, tmp_path, threads=1, progress=False)
    assert (index / MANIFEST).stat().st_mtime_ns == before


def test_a_dense_index_with_a_truncated_faiss_file_is_rebuilt(dense_index, tiny, tmp_path):
    recipe = DenseRecipe(name="minilm")
    index = index_path(recipe, tiny, tmp_path)
    shutil.copytree(dense_index, index)
    _truncate(index / FAISS_FILE)
    ensure_index(recipe, tiny, tmp_path, threads=1, progress=False)
    assert (index / FAISS_FILE).stat().st_size == (dense_index / FAISS_FILE).stat().st_size
    with Searcher.open(index) as searcher:
        assert searcher.search("aspirin colorectal cancer", 1)[0].docid == "d1"


@pytest.mark.parametrize("damage", ["manifest truncated", "manifest not JSON", "manifest a list", "manifest of an unknown kind"])
def test_an_unreadable_manifest_is_never_taken_for_lsrs_so_nothing_is_deleted(bm25_index, tiny, tmp_path, damaged_copy, damage):
    recipe = IndexRecipe(name="bm25")
    index = damaged_copy(bm25_index, damage, index_path(recipe, tiny, tmp_path))
    files = sorted(p.relative_to(index) for p in index.rglob("*"))
    with pytest.raises(LsrError, match=f"^{index} exists and is not an lsr index \\(its manifest.json is unreadable"):
        ensure_index(recipe, tiny, tmp_path, threads=1, progress=False)
    assert sorted(p.relative_to(index) for p in index.rglob("*")) == files
