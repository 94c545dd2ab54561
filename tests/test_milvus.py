"""Milvus collections: written from an impact index's kept vectors, searched through the same API, exact like Lucene's exhaustive search."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import replace

import pytest

from lsr.cli import main
from lsr.errors import LsrError
from lsr.index.milvus import build_milvus, open_client
from lsr.search import MilvusSearcher, Searcher
from tests.conftest import TINY_QUERIES
from tests.test_seismic import assert_same_top


@pytest.mark.parametrize("source", ["if_index", "splade_index", "channel_index"])
def test_milvus_lite_gives_the_lucene_index_hits(source, request, tmp_path):
    """Inference-free, SPLADE (a query model) and a BM25 channel: the same top 10, scores and order as Lucene's exhaustive search."""
    index = request.getfixturevalue(source)
    manifest = build_milvus(index, tmp_path / "milvus", progress=False)
    assert manifest["kind"] == "milvus" and manifest["num_docs"] == 11 and manifest["milvus"]["uri"] == "milvus.db"
    queries = [*TINY_QUERIES.values(), "zebra cancer"]
    with Searcher.open(index, exhaustive=True) as lucene, Searcher.open(tmp_path / "milvus") as milvus:
        assert isinstance(milvus, MilvusSearcher)
        for query, batched in zip(queries, milvus.batch_search(queries, 10)):
            assert_same_top(milvus.search(query, 10), lucene.search(query, 10))
            assert batched == milvus.search(query, 10)
        assert milvus.search("  ", 10) == [] and milvus.search("xqzw", 10) == lucene.search("xqzw", 10)


def test_the_cli_writes_beside_the_index_and_a_rebuild_replaces_it(if_index, tmp_path, capsys):
    output = tmp_path / "if-milvus"
    for _ in range(2):  # the second run replaces the first, whose milvus-lite folder is closed and moved away
        assert main(["export", "milvus", str(if_index), "-o", str(output), "--quiet"]) == 0
        assert "Milvus collection 'lsr_if_milvus' of 11 documents" in capsys.readouterr().out
        with Searcher.open(output) as searcher:
            assert searcher.search("aspirin colorectal cancer", 3)[0].docid == "d1"
            searcher.encoder = None  # an IDF table runs no model: encode_query leaves it alone
            searcher.encode_query("aspirin")
    assert json.loads((output / "manifest.json").read_text())["milvus"]["collection"] == "lsr_if_milvus"
    assert not (tmp_path / "if-milvus.partial").exists() and not (tmp_path / "if-milvus.old").exists()
    assert main(["search", str(output), "aspirin", "colorectal", "cancer", "-k", "1"]) == 0
    assert "d1" in capsys.readouterr().out


def test_bad_sources_addresses_and_names_are_clear_errors(bm25_index, splade_index, tmp_path):
    with pytest.raises(LsrError, match="is built from an impact index, not a bm25 one"):
        build_milvus(bm25_index, tmp_path / "m", progress=False)
    with pytest.raises(LsrError, match="no kept vectors.*--keep-vectors"):
        build_milvus(_without_vectors(splade_index, tmp_path), tmp_path / "m", progress=False)
    with pytest.raises(LsrError, match="cannot connect to Milvus at http://127.0.0.1:9"):
        build_milvus(splade_index, tmp_path / "m", uri="http://127.0.0.1:9", progress=False)
    with pytest.raises(LsrError, match="cannot connect to Milvus at http://127.0.0.1:9"):
        open_client("http://127.0.0.1:9", timeout=5)
    with pytest.raises(LsrError, match="collection name 'my-docs'"):
        build_milvus(splade_index, tmp_path / "m", collection="my-docs", progress=False)
    with pytest.raises(LsrError, match="collection name '': letters, digits and underscores"):
        build_milvus(splade_index, tmp_path / "m", collection="", progress=False)
    for uri in ("not a uri", str(tmp_path / "notes.txt"), "127.0.0.1:19530"):
        with pytest.raises(LsrError, match=f"Milvus URI {re.escape(repr(uri))}: give a server's, such as http://host:19530"):
            build_milvus(splade_index, tmp_path / "m", uri=uri, progress=False)
    assert not (tmp_path / "m").exists()


def test_a_damaged_milvus_folder_names_what_is_missing(if_index, tmp_path):
    import shutil

    build_milvus(if_index, tmp_path / "m", progress=False)
    shutil.rmtree(tmp_path / "m" / "milvus.db")
    with pytest.raises(LsrError, match="damaged lsr index: its milvus-lite folder milvus.db/ is missing"):
        Searcher.open(tmp_path / "m")


@pytest.mark.parametrize("k", [12, 16_385, 10**15])
def test_a_k_beyond_the_documents_returns_every_hit(if_index, tmp_path, k):
    build_milvus(if_index, tmp_path / "m", progress=False)
    with Searcher.open(if_index, exhaustive=True) as lucene, Searcher.open(tmp_path / "m") as milvus:
        assert_same_top(milvus.search("aspirin cancer", k), lucene.search("aspirin cancer", k))


IN_USE = r"milvus.db is in use by another process \(milvus-lite opens a folder in one process at a time\)"


@contextmanager
def held_by_another_process(folder):
    """A process that has the lsr Milvus folder ``folder`` open for the length of the block."""
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from lsr.search import Searcher; s = Searcher.open(sys.argv[1]); "
                               "print('open', flush=True); sys.stdin.read()", str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "open\n"
        yield
    finally:
        holder.communicate("")


def test_a_milvus_lite_folder_open_in_another_process_is_a_clear_error(if_index, tmp_path):
    build_milvus(if_index, tmp_path / "m", progress=False)
    with held_by_another_process(tmp_path / "m"), pytest.raises(LsrError, match=IN_USE):
        Searcher.open(tmp_path / "m")
    with Searcher.open(tmp_path / "m") as milvus:  # free again once that process has ended
        assert milvus.search("aspirin", 1)


def test_a_folder_taken_between_the_check_and_the_start_is_an_in_use_error_without_a_traceback(if_index, tmp_path, monkeypatch, capfd):
    import lsr.index.milvus as milvus

    build_milvus(if_index, tmp_path / "m", progress=False)
    checks = []
    check = milvus._check_lite_unlocked

    def free_at_first(folder):  # the other process takes the folder just after the first check
        checks.append(folder)
        if len(checks) > 1:
            check(folder)

    monkeypatch.setattr(milvus, "_check_lite_unlocked", free_at_first)
    capfd.readouterr()
    with held_by_another_process(tmp_path / "m"), pytest.raises(LsrError, match=IN_USE):
        Searcher.open(tmp_path / "m")
    assert len(checks) == 2 and "Traceback" not in capfd.readouterr().err


def _without_vectors(index, tmp_path):
    import shutil

    copy = tmp_path / "no-vectors"
    shutil.copytree(index, copy)
    shutil.rmtree(copy / "collection")
    return copy


def test_the_bench_part_compares_milvus_with_lucene_on_the_same_vectors(tiny, channel_index, bm25_index, tmp_path):
    from lsr.bench.markdown import _milvus_section
    from lsr.bench.milvus import milvus_bench

    said = []
    part = milvus_bench(tiny, channel_index, bm25_index, list(TINY_QUERIES.values()), tmp_path, repeats=1, say=said.append)
    assert part["scifact_ndcg10"]["Milvus"] == part["scifact_ndcg10"]["Lucene, exhaustive"] > 0
    assert part["queries"] == len(tiny.qrels("test")) and 0 < part["same_top10"] <= 1 and part["num_docs"] == 11
    assert set(part["latency_k10"]) == {"BM25", "Lucene, exhaustive", "Milvus (milvus-lite)"} and said
    assert "nDCG@10 **" in "\n".join(_milvus_section(part))
    again = milvus_bench(tiny, channel_index, bm25_index, list(TINY_QUERIES.values()), tmp_path, repeats=1, say=said.append)
    assert again["write_seconds"] == part["write_seconds"]  # the collection of the same source build is reused


@pytest.mark.parametrize("mode, method", [("fusion", "minmax"), ("rerank", "minmax"), ("fusion", "rrf")])
def test_a_hybrid_in_one_collection_gives_the_hybrid_index_hits(mode, method, channel_index, dense_index, tmp_path):
    """The sparse and dense vectors of a hybrid in one collection, fused by lsr: the same hits as the source hybrid."""
    from lsr.index.hybrid import build_hybrid
    from lsr.index.recipe import load_recipe
    from lsr.search import HybridSearcher
    from lsr.search.milvus import MilvusDenseSearcher
    from tests.test_hybrid import recipe_files

    recipe = load_recipe(recipe_files(tmp_path, mode=mode, method=method, dense_weight=0.4, depth=6))
    build_hybrid(recipe, channel_index, dense_index, tmp_path / "hybrid")
    manifest = build_milvus(tmp_path / "hybrid", tmp_path / "milvus", progress=False)
    assert manifest["milvus"]["dense"]["fusion"]["mode"] == mode and manifest["milvus"]["dense"]["dim"] == 384
    queries = [*TINY_QUERIES.values(), "zebra cancer"]
    with Searcher.open(tmp_path / "hybrid") as source, Searcher.open(tmp_path / "milvus") as milvus:
        assert isinstance(milvus, HybridSearcher) and isinstance(milvus.dense, MilvusDenseSearcher) and milvus.config == source.config
        for query, batched, expected in zip(queries, milvus.batch_search(queries, 5), source.batch_search(queries, 5)):
            for hits in (milvus.search(query, 5), batched):  # one query and a batch embed in different float sums
                assert [h.docid for h in hits] == [h.docid for h in expected]
                assert [h.score for h in hits] == pytest.approx([h.score for h in expected], abs=1e-5)
        assert milvus.search("  ", 5) == []
        with pytest.raises(LsrError, match="is not in Milvus collection"):
            milvus.dense.score(milvus.dense.encode(["aspirin"])[0], ["d1", "nowhere"])


def test_a_hybrid_of_several_sparse_lists_is_refused(channel_index, if_index, dense_index, tmp_path):
    from lsr.index.hybrid import build_hybrid
    from lsr.index.recipe import load_recipe
    from tests.test_hybrid import recipe_files

    recipe = load_recipe(recipe_files(tmp_path))
    recipe = replace(recipe, more_sparse=(recipe.sparse,), fusion=replace(recipe.fusion, list_weights=(0.3, 0.3, 0.4)))
    build_hybrid(recipe, channel_index, dense_index, tmp_path / "hybrid", more_sparse_dirs=(if_index,))
    with pytest.raises(LsrError, match="one sparse and one dense field; this hybrid has 2 sparse lists"):
        build_milvus(tmp_path / "hybrid", tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()


def test_the_cli_keeps_a_hybrids_sparse_vectors_and_exports_it_into_one_collection(tiny, tmp_path, capsys):
    folder = tmp_path / "indexing"
    folder.mkdir()
    (folder / "if.yaml").write_text("name: if\nencoder: splade-tiny\nquery_encoder: idf\n")
    (folder / "minilm.yaml").write_text("kind: dense\nname: minilm\n")
    (folder / "hybrid.yaml").write_text("kind: hybrid\nname: hybrid\nsparse: if.yaml\ndense: minilm.yaml\nmode: rerank\ndepth: 5\n")
    out, hybrid = tmp_path / "out", tmp_path / "hybrid"
    assert main(["index", str(folder / "hybrid.yaml"), "--dataset", str(tiny.root), "--output", str(hybrid), "--keep-vectors",
                 "--out-dir", str(out), "--threads", "1", "--quiet"]) == 0
    assert (out / "indexes" / "tiny" / "if" / "collection").is_dir()
    capsys.readouterr()
    assert main(["export", "milvus", str(hybrid), "--quiet"]) == 0
    assert "documents' sparse and dense vectors" in capsys.readouterr().out
    with Searcher.open(hybrid) as source, Searcher.open(tmp_path / "hybrid-milvus") as milvus:
        assert [h.docid for h in milvus.search("aspirin colorectal cancer", 3)] == [h.docid for h in source.search("aspirin colorectal cancer", 3)]
