"""Faults: damaged index folders, a killed parent of the indexing JVM, two writers of one output."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lsr.errors import LsrError
from lsr.eval.evaluate import ensure_index, index_path
from lsr.index.manifest import FAISS_FILE, LUCENE_DIR, MANIFEST, VECTORS, building, read_manifest, write_manifest
from lsr.index.recipe import DenseRecipe, IndexRecipe
from lsr.search import Searcher

ROOT = Path(__file__).resolve().parents[1]


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
    "manifest num_docs not a count": (lambda i: _manifest(i, lambda m: m.update(num_docs="many")),
                                      "manifest.json's num_docs is 'many', not an integer >= 0"),
    "manifest k1 not a number": (lambda i: _manifest(i, lambda m: m["query"].update(k1=float("nan"))),
                                 "manifest.json's query.k1 is nan, not a finite number >= 0"),
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


@pytest.mark.parametrize("name, expected", [
    ("tokenizer.json", "cannot read tokenizer {path}: key must be a string at line 1 column 2"),
    ("idf.json", "cannot read weight table {path}: Expecting property name enclosed in double quotes"),
])
def test_an_impact_index_with_an_unreadable_query_file_is_a_clear_error(if_index, tmp_path, name, expected):
    index = tmp_path / "index"
    shutil.copytree(if_index, index)
    (index / "query" / name).write_text("{not json", encoding="utf-8")
    with pytest.raises(LsrError, match=re.escape(expected.format(path=index / "query" / name))):
        Searcher.open(index)


@pytest.mark.parametrize("damage, expected", [
    (lambda i: _truncate(i / VECTORS), "vectors.npy is .* bytes, not the .* its header announces"),
    (lambda i: (i / VECTORS).write_bytes(b"\x93NUMPY garbage"), "vectors.npy is not a readable numpy array"),
    (lambda i: _truncate(i / FAISS_FILE), "index.faiss is .* bytes, less than the .* its .* vectors need"),
    (lambda i: (i / "docids.json").unlink(), "docids.json is missing"),
    (lambda i: (i / "docids.json").write_text('["d1", "d2"', encoding="utf-8"), "docids.json is not a whole JSON list"),
    (lambda i: (i / "docids.json").write_text('["d1", "d2"]', encoding="utf-8"), "docids.json does not hold the manifest's 11 document ids"),
    (lambda i: (i / "docids.json").write_text('[d1]', encoding="utf-8"), "docids.json cannot be read"),
    (lambda i: _manifest(i, lambda m: m["faiss"].pop("dim")), "manifest.json lacks faiss.dim"),
])
def test_a_damaged_dense_index_is_a_clear_error_naming_the_folder(dense_index, tmp_path, damage, expected):
    index = tmp_path / "index"
    shutil.copytree(dense_index, index)
    damage(index)
    with pytest.raises(LsrError, match=f"^{index}: a damaged lsr index: {expected}") as error:
        Searcher.open(index).search("aspirin", 3)
    assert "\n" not in str(error.value)


def test_a_dense_index_whose_query_model_gives_vectors_of_another_size_is_a_clear_error(dense_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(dense_index, index)
    _manifest(index, lambda m: m["query"].update(model="splade-tiny"))  # as a query model folder retrained from another backbone
    with pytest.raises(LsrError, match=f"^{index}: its query model splade-tiny gives 128-dimensional vectors, not the 384 of its documents"):
        Searcher.open(index).search("aspirin", 3)


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


def test_a_fresh_process_whose_first_java_call_is_the_reuse_check_reuses_the_index(bm25_index):
    """The check opens the index with lsr's JVM (its Java, its classpath), not with one that importing jnius would start."""
    script = "import sys; from pathlib import Path; from lsr.search.lucene import check_readable; check_readable(Path(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", script, str(bm25_index / LUCENE_DIR)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("damaged_file", [FAISS_FILE, "docids.json"])
def test_a_dense_index_with_a_truncated_file_is_rebuilt_not_copied(dense_index, tiny, tmp_path, damaged_file):
    """Caught by the reuse check, and not taken as the source of the rebuild's vectors either."""
    recipe = DenseRecipe(name="minilm")
    index = index_path(recipe, tiny, tmp_path)
    shutil.copytree(dense_index, index)
    _truncate(index / damaged_file)
    ensure_index(recipe, tiny, tmp_path, threads=1, progress=False)
    assert (index / damaged_file).stat().st_size == (dense_index / damaged_file).stat().st_size
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


# -- the indexing JVM dies with its parent ---------------------------------------------------------------------------

PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from lsr.jvm import dying_with_parent
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], **({} if sys.argv[1] == "plain" else dying_with_parent()))
    print(child.pid, flush=True)
    time.sleep(120)
""")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by whoever adopted it, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _grandchild_after_kill(how: str) -> tuple[int, bool]:
    """Start a parent that starts a long child (``how``: through lsr's helper or plainly), kill -9 the parent, and tell
    (the child's pid, whether it is still alive 5 s later)."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    return child, _alive(child)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal is Linux's")
def test_the_indexing_jvm_dies_when_its_parent_is_killed():
    child, alive = _grandchild_after_kill("lsr")
    assert not alive, f"pid {child} outlived its parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal is Linux's")
def test_without_the_helper_the_child_outlives_its_parent():
    """The fault the helper prevents is real here: a plain child keeps running (it is then ended by the test)."""
    child, alive = _grandchild_after_kill("plain")
    try:
        assert alive
    finally:
        if alive:
            os.kill(child, signal.SIGKILL)


LOAD_TEST = textwrap.dedent("""
    import sys
    from pathlib import Path
    from lsr.bench.loadtest import free_port, start_service
    print(start_service({"bm25": Path(sys.argv[1])}, free_port(), 2, 120).pid, flush=True)
    sys.stdin.read()
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal is Linux's")
def test_the_load_tests_service_dies_when_the_load_test_is_killed(bm25_index):
    parent = subprocess.Popen([sys.executable, "-c", LOAD_TEST, str(bm25_index)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    service = int(parent.stdout.readline())
    assert _alive(service)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(service) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(service)


def test_run_java_starts_the_jvm_dying_with_its_parent(monkeypatch, tmp_path):
    import lsr.jvm

    seen = {}

    def run(command, **options):
        seen.update(options)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(lsr.jvm.subprocess, "run", run)
    lsr.jvm.run_java("io.anserini.index.IndexCollection", [], tmp_path / "log")
    assert seen.get("preexec_fn") is not None or not sys.platform.startswith("linux")


# -- one writer per output ---------------------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from lsr.index.manifest import building
    with building(sys.argv[1]) as tmp:
        (tmp / "half-written").write_text("x")
        print("building", flush=True)
        time.sleep(120)
""")


def _holder(output: Path) -> subprocess.Popen:
    """Another process building ``output`` (it stops once told that it is building)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(output)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout.readline() == "building\n"
    return process


def test_a_second_writer_of_an_output_is_told_who_holds_it(tmp_path):
    output = tmp_path / "index"
    holder = _holder(output)
    try:
        with pytest.raises(LsrError, match=f"^{output} is in use by another lsr process \\(pid {holder.pid}\\), which holds {output}.lock"):
            with building(output):
                pytest.fail("the second build must not start")
        assert (tmp_path / "index.partial" / "half-written").is_file()  # the holder's work is left alone
    finally:
        holder.kill()
        holder.wait()


def test_the_leftovers_of_a_killed_writer_are_cleaned_up_by_the_next(tmp_path):
    output = tmp_path / "index"
    holder = _holder(output)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "index.partial" / "half-written").is_file()
    with building(output) as tmp:
        assert list(tmp.iterdir()) == []
        write_manifest(tmp, {"kind": "bm25", "num_docs": 1})
    assert read_manifest(output)["num_docs"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_writers_of_one_output_in_one_process_exclude_each_other_too(tmp_path):
    output = tmp_path / "index"
    with building(output) as tmp:
        with pytest.raises(LsrError, match=f"in use by another lsr process \\(pid {os.getpid()}\\)"):
            with building(output):
                pytest.fail("the second build must not start")
        write_manifest(tmp, {"kind": "bm25", "num_docs": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
    with building(output) as tmp:  # the lock went with the first build
        write_manifest(tmp, {"kind": "bm25", "num_docs": 2})
    assert read_manifest(output)["num_docs"] == 2


def test_an_output_whose_lock_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(LsrError, match=f"^{tmp_path / 'file' / 'index'}: cannot take its lock"):
        with building(tmp_path / "file" / "index"):
            pytest.fail("the build must not start")


def test_a_corpus_changed_while_it_is_indexed_is_not_recorded_as_indexed(tiny, tmp_path):
    """The checksum is taken before the corpus is read and checked before the manifest is written."""
    from lsr.data import Dataset
    from lsr.index.build import build_index

    root = tmp_path / "moving"
    shutil.copytree(tiny.root, root)

    class Appending(Dataset):
        def corpus(self):
            yield from super().corpus()
            with open(self.corpus_path, "a", encoding="utf-8") as handle:  # another writer, while the index is built
                handle.write(json.dumps({"_id": "late", "title": "", "text": "added while indexing"}) + "\n")

    with pytest.raises(LsrError, match="changed while it was being read"):
        build_index(IndexRecipe(name="bm25"), Appending("moving", root), tmp_path / "index", threads=1, progress=False)
    assert not (tmp_path / "index").exists()


def test_a_siamese_index_refuses_a_query_model_replaced_after_indexing(tiny, tmp_path):
    """The index pins its query model's files (a digest in the manifest): a changed or missing model is a clear error."""
    from lsr.encoders.names import resolve_model
    from lsr.index.build import build_index

    model = tmp_path / "model"
    shutil.copytree(resolve_model("splade-tiny"), model)
    index = tmp_path / "siamese"
    build_index(IndexRecipe(name="siamese", encoder=str(model), query_encoder="model"), tiny, index, threads=1, progress=False)
    assert read_manifest(index)["query"]["model_digest"]
    with Searcher.open(index) as searcher:
        assert searcher.search("aspirin", k=1)
    with open(model / "config.json", "a", encoding="utf-8") as handle:
        handle.write("\n")
    with pytest.raises(LsrError, match="changed since the index was built"):
        Searcher.open(index)
    shutil.rmtree(model)
    with pytest.raises(LsrError, match="query model .* is missing"):
        Searcher.open(index)


@pytest.mark.parametrize("damage, expected", [
    (lambda i: _manifest(i, lambda m: m.pop("query")), "manifest.json lacks query.type"),
    (lambda i: next((i / "collection").glob("*.jsonl")).write_text('{"id": "d1", "vector": ', encoding="utf-8"), ".jsonl:1 cannot be read"),
    (lambda i: next((i / "collection").glob("*.jsonl")).write_text('{"vector": {}}\n', encoding="utf-8"), ".jsonl:1 cannot be read"),
])
def test_exact_search_of_a_damaged_index_is_a_clear_error(if_index, tmp_path, damage, expected):
    from lsr.search.exact import ExactSearcher

    index = tmp_path / "index"
    shutil.copytree(if_index, index)
    damage(index)
    with pytest.raises(LsrError, match=re.escape(expected)) as error:
        ExactSearcher.from_index(index)
    assert str(error.value).startswith(f"{index}: a damaged lsr index")


@pytest.mark.parametrize("leftover", ["partial folder", "partial file", "old folder", "lock text"])
def test_paths_beside_an_output_that_are_not_lsrs_are_never_removed(tmp_path, leftover):
    """``<output>.partial``, ``.old`` and ``.lock`` are lsr's working names; one that lsr did not leave there is refused."""
    output = tmp_path / "index"
    suffix, kind = leftover.split()
    path = tmp_path / f"index.{suffix}"
    if kind == "folder":
        path.mkdir()
        (path / "notes.txt").write_text("mine")
    else:
        path.write_text("mine")
    with pytest.raises(LsrError, match=f"^{path} exists and is not"):
        with building(output):
            pytest.fail("the build must not start")
    assert (path / "notes.txt" if kind == "folder" else path).read_text() == "mine"
    assert not output.exists()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_disk_is_a_one_line_error_and_the_previous_index_stays(bm25_index, tiny, tmp_path, monkeypatch, capsys, code):
    """The system refusing a write mid-build (simulated where the manifest is written: root may write anywhere, and
    mounting a small tmpfs needs privileges CI may lack) ends the command with status 2 and one line; nothing is lost."""
    from lsr.cli import main

    output = tmp_path / "bm25"
    shutil.copytree(bm25_index, output)
    before = _files(output)
    failing = f"{output}.partial/{MANIFEST}"

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), failing)

    monkeypatch.setattr("lsr.index.build.write_manifest", refuse)
    assert main(["index", "indexing/bm25.yaml", "--dataset", str(tiny.root), "--output", str(output), "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"lsr: error: {failing}: {os.strerror(code)}; ") and err[:-1] == ["bm25: skipped 1 empty document(s), e.g. 'd9'"]
    assert _files(output) == before and sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]
