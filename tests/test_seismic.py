"""Seismic indexes: built from an impact index's kept vectors, searched through the same API, exact at exact settings."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from lsr.cli import main
from lsr.errors import LsrError
from lsr.index.seismic import SeismicSettings, build_seismic
from lsr.search import Searcher, SeismicSearcher
from tests.conftest import TINY_QUERIES

EXACT = SeismicSettings(n_postings=1000, summary_energy=1.0, centroid_fraction=1.0, min_cluster_size=1, doc_cut=1000, query_cut=1000,
                        heap_factor=1.0)
"""No posting pruned, summaries that bound every block, every query term and block visited: Seismic's search is exact."""


def assert_same_top(got, want):
    """The same scores in the same order, and the same documents above the last score (Seismic returns any of the documents
    tied there, Lucene the first ids)."""
    assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-6, abs=1e-3)
    assert {h.docid for h in got if h.score > got[-1].score} == {h.docid for h in want if h.score > want[-1].score}


@pytest.mark.parametrize("source", ["if_index", "splade_index", "channel_index"])
def test_exact_settings_give_the_lucene_index_hits(source, request, tmp_path):
    """Inference-free, SPLADE (a query model) and a BM25 channel: the same top 10, scores and order as Lucene's exhaustive search."""
    index = request.getfixturevalue(source)
    manifest = build_seismic(index, tmp_path / "seismic", EXACT, threads=1)
    assert manifest["kind"] == "seismic" and manifest["num_docs"] == 11  # the 12 documents but d9, which is empty
    with Searcher.open(index, exhaustive=True) as lucene, Searcher.open(tmp_path / "seismic") as seismic:
        assert isinstance(seismic, SeismicSearcher)
        for query in [*TINY_QUERIES.values(), "zebra cancer"]:
            assert_same_top(seismic.search(query, 10), lucene.search(query, 10))
        assert seismic.search("  ", 10) == [] and seismic.search("xqzw", 10) == lucene.search("xqzw", 10)


@pytest.mark.parametrize("k", [12, 2**31, 10**15])
def test_a_k_beyond_the_documents_returns_every_hit_instead_of_aborting_the_process(if_index, tmp_path, k):
    build_seismic(if_index, tmp_path / "seismic", EXACT, threads=1)
    with Searcher.open(if_index, exhaustive=True) as lucene, Searcher.open(tmp_path / "seismic") as seismic:
        assert_same_top(seismic.search("aspirin cancer", k), lucene.search("aspirin cancer", k))


def test_the_cli_builds_beside_the_index_and_search_reads_it(if_index, tmp_path, capsys):
    output = tmp_path / "if-seismic"
    assert main(["export", "seismic", str(if_index), "-o", str(output), "--query-cut", "5", "--heap-factor", "0.5", "--threads", "1"]) == 0
    assert f"{output}: seismic, 11 documents" in capsys.readouterr().out
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["seismic"]["query_cut"] == 5 and manifest["query"]["type"] == "idf"
    with Searcher.open(output) as searcher:
        assert searcher.settings.query_cut == 5 and searcher.settings.heap_factor == 0.5
        assert searcher.search("aspirin colorectal cancer", 3)[0].docid == "d1"
        other = searcher.with_settings(heap_factor=1.0)
        assert other.settings.heap_factor == 1.0 and other.settings.query_cut == 5 and searcher.settings.heap_factor == 0.5
        assert other.search("aspirin colorectal cancer", 3)[0].docid == "d1"
        with pytest.raises(LsrError, match="heap_factor must be in"):
            searcher.with_settings(heap_factor=2.0)
        searcher.encoder = None  # an IDF table runs no model: encode_query (what latency figures time) leaves it alone
        searcher.encode_query("aspirin")
    assert main(["search", str(output), "aspirin", "colorectal", "cancer", "-k", "1"]) == 0
    assert "d1" in capsys.readouterr().out


def test_a_knn_graph_is_saved_with_the_index_and_its_neighbours_only_add_exactly_scored_candidates(if_index, tmp_path, caplog):
    """The graph (``nknn``) travels in the index file; searching with ``n_knn`` neighbours keeps exact settings exact, and at a
    pruning setting it can only raise the scores of the top k, since each neighbour enters with its exact score."""
    with caplog.at_level(logging.INFO, logger="lsr"):
        manifest = build_seismic(if_index, tmp_path / "seismic", dataclasses.replace(EXACT, nknn=3), threads=1)
    assert manifest["seismic"]["nknn"] == 3
    assert "seismic: building a Seismic index of 11 documents on 1 threads, then its kNN graph (3 neighbours" in caplog.text  # slow: announced
    with Searcher.open(if_index, exhaustive=True) as lucene, Searcher.open(tmp_path / "seismic") as seismic:
        assert seismic._index.knn_len == 3 and seismic.settings.n_knn == 0
        exact, pruned = seismic.with_settings(n_knn=3), seismic.with_settings(query_cut=1)
        for query in TINY_QUERIES.values():
            assert_same_top(exact.search(query, 10), lucene.search(query, 10))
            alone, helped = pruned.search(query, 5), pruned.with_settings(n_knn=3).search(query, 5)
            assert len(helped) >= len(alone) and all(b >= a - 1e-3 for a, b in zip([h.score for h in alone], [h.score for h in helped]))
        with pytest.raises(LsrError, match="takes query_cut, heap_factor, n_knn, not n_postings"):
            seismic.with_settings(n_postings=10)


@pytest.mark.parametrize("quiet", [False, True])
def test_seismics_own_build_messages_go_to_stderr_and_nowhere_under_quiet(if_index, tmp_path, capfd, quiet):
    assert main(["export", "seismic", str(if_index), "-o", str(tmp_path / "s"), "--threads", "1"] + ["--quiet"] * quiet) == 0
    printed = capfd.readouterr()
    assert printed.out.splitlines() == [printed.out.strip()] and printed.out.startswith(f"{tmp_path / 's'}: seismic")
    assert ("Number of posting lists" in printed.err) is not quiet


def test_bad_sources_and_settings_are_clear_errors(bm25_index, if_index, tmp_path):
    with pytest.raises(LsrError, match="from an impact index, not a bm25 one"):
        build_seismic(bm25_index, tmp_path / "a")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "manifest.json").write_text((if_index / "manifest.json").read_text())
    with pytest.raises(LsrError, match="no kept vectors.*--keep-vectors"):
        build_seismic(bare, tmp_path / "b")
    for setting, message in (({"heap_factor": 0}, "heap_factor must be in"), ({"query_cut": 0}, "query_cut must be a positive integer"),
                             ({"summary_energy": 1.5}, "summary_energy must be in"), ({"max_fraction": 0.5}, "max_fraction must be"),
                             ({"max_fraction": True}, "max_fraction must be a finite number >= 1, got True"),
                             ({"max_fraction": float("inf")}, "max_fraction must be a finite number >= 1, got inf"),
                             ({"nknn": -1}, "nknn must be a whole number"), ({"nknn": 2, "n_knn": 3}, r"n_knn \(3\) must be at most nknn")):
        with pytest.raises(LsrError, match=message):
            build_seismic(if_index, tmp_path / "c", SeismicSettings(**setting))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(LsrError):
        build_seismic(if_index, mine, EXACT, threads=1)
    assert (mine / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("damage, expected", [
    (lambda shard: shard.write_text(shard.read_text()[:-40]), r"its kept vectors collection/.*\.jsonl cannot be read \("),
    (lambda shard: shard.write_text("".join(shard.read_text().splitlines(keepends=True)[1:])),
     "its kept vectors hold 10 documents, not the manifest's 11 \\(truncated\\?\\)"),
    (lambda shard: shard.write_text('{"id": "d1", "vector": [1, 2]}\n'), r"its kept vectors collection/.*\.jsonl cannot be read \(not an object"),
    (lambda shard: shard.write_bytes(b"\xff\xfe"), r"its kept vectors collection/.*\.jsonl cannot be read \('utf-8' codec"),
])
@pytest.mark.parametrize("build", ["seismic", "milvus"])
def test_damaged_kept_vectors_are_a_damaged_source_not_a_traceback_or_fewer_documents(if_index, tmp_path, damage, expected, build):
    import shutil

    from lsr.index.milvus import build_milvus

    source = tmp_path / "source"
    shutil.copytree(if_index, source)
    damage(next((source / "collection").glob("*.jsonl")))
    with pytest.raises(LsrError, match=f"{source}: a damaged lsr index: {expected}"):
        build_seismic(source, tmp_path / "out", EXACT, threads=1) if build == "seismic" else build_milvus(source, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage, expected", [
    (lambda terms: terms.unlink(), "terms.json is missing"),
    (lambda terms: terms.write_text(terms.read_text()[:20]), r"terms.json cannot be read \("),
    (lambda terms: terms.write_text("[1, 2]"), "terms.json does not map terms to integer ids"),
    (lambda terms: terms.write_text('{"aspirin": "7"}'), "terms.json does not map terms to integer ids"),
])
def test_a_damaged_seismic_index_names_the_damaged_file(if_index, tmp_path, damage, expected):
    build_seismic(if_index, tmp_path / "s", EXACT, threads=1)
    damage(tmp_path / "s" / "terms.json")
    with pytest.raises(LsrError, match=f"a damaged lsr index: {expected}"):
        Searcher.open(tmp_path / "s")


def test_the_bench_part_chooses_a_setting_on_train_and_reports_test(tmp_path, tiny, if_index):
    """On a synthetic corpus drawn from the tiny index: Seismic holds the same documents as the synthetic Lucene index (exact
    settings give its exhaustive hits), a setting of the grid is chosen, and the markdown section renders."""
    from lsr.bench.markdown import _seismic_section
    from lsr.bench.scale import synthetic_index
    from lsr.bench.seismic import GRID, seismic_bench
    from lsr.bench.synthetic import synthetic_chunks

    large = {kind: synthetic_index(kind, tiny, if_index, 300, tmp_path, threads=1)[0] for kind in ("impact", "bm25")}
    build_seismic(large["impact"], tmp_path / "exact", EXACT, chunks=synthetic_chunks(if_index, 300), threads=1)
    queries = list(TINY_QUERIES.values())
    with Searcher.open(large["impact"], exhaustive=True) as lucene, Searcher.open(tmp_path / "exact") as seismic:
        assert seismic.settings == EXACT
        for query in queries:
            assert_same_top(seismic.search(query, 10), lucene.search(query, 10))
    said = []
    part = seismic_bench(tiny, if_index, large["impact"], large["bm25"], queries, queries[:3], tmp_path, repeats=1, threads=1, say=said.append)
    assert (part["chosen"]["query_cut"], part["chosen"]["heap_factor"]) in GRID and len(part["grid"]) == len(GRID)
    assert all(0 <= row["train recall@10"] <= 1 for row in part["grid"])
    assert part["synthetic"]["num_docs"] == 300
    assert set(part["synthetic"]["latency_k10"]) == {"BM25", "Lucene, exhaustive", "Lucene, two-phase (lsr's default)", "Seismic"}
    assert 0 < part["scifact_ndcg10"]["Seismic"] <= 1 and 0 < part["scifact_ndcg10"]["Lucene, exhaustive"] <= 1
    assert any("Seismic" in line for line in said)
    assert "query_cut" in "\n".join(_seismic_section(part))
