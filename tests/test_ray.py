"""Document encoding on Ray (lsr index --ray): the same index as in-process encoding, resumable from its shards, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from lsr.cli import main
from lsr.errors import LsrError
from lsr.index.build import build_index
from lsr.index.ray_encoding import RayEncoding, encode_shards, encoding_key, ray_session, shard_folder
from lsr.index.recipe import IndexRecipe
from lsr.search import Searcher
from tests.conftest import TINY_QUERIES

RECIPE = IndexRecipe(name="inference-free", encoder="splade-tiny", query_encoder="idf")  # as the if_index fixture
SMALL_SHARDS = RayEncoding(actors=2, threads=1, shard_docs=4)  # the tiny corpus' 11 documents in 3 shards


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for this module's jobs (each job still starts its own actors); lsr starts and stops one per job otherwise."""
    with ray_session(SMALL_SHARDS):
        yield


def kept(index) -> dict[str, dict[str, int]]:
    return {json.loads(line)["id"]: json.loads(line)["vector"] for path in sorted((index / "collection").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()}


def test_the_ray_path_gives_the_in_process_index(tiny, if_index, tmp_path):
    """Same documents, terms and weights (a weight may move by one quantisation step: float sums differ across processes
    and thread counts), and the same hits."""
    output = tmp_path / "ray"
    manifest = build_index(RECIPE, tiny, output, threads=1, keep_vectors=True, progress=False, ray=SMALL_SHARDS)
    assert manifest["ray"]["shards"] == 3 and manifest["ray"]["encoded_shards"] == 3 and manifest["num_docs"] == 11
    assert not shard_folder(output).exists()  # removed once the index is built
    ours, theirs = kept(output), kept(if_index)
    assert list(ours) == list(theirs)
    moved = 0
    for doc, vector in ours.items():
        other = theirs[doc]
        for term in vector.keys() | other.keys():
            assert abs(vector.get(term, 0) - other.get(term, 0)) <= 1, (doc, term)
            moved += vector.get(term, 0) != other.get(term, 0)
    assert moved <= sum(len(v) for v in ours.values()) // 100  # nearly every weight identical
    with Searcher.open(output) as ray_searcher, Searcher.open(if_index) as searcher:
        for query in TINY_QUERIES.values():
            assert [h.docid for h in ray_searcher.search(query, 3)] == [h.docid for h in searcher.search(query, 3)]


def test_an_interrupted_job_resumes_without_encoding_the_shards_it_wrote(tiny, tmp_path):
    output = tmp_path / "ray"
    docs = [d for d in tiny.corpus() if d.contents]
    folder = shard_folder(output)
    first = encode_shards(RECIPE, docs, folder, encoding_key(RECIPE, tiny.corpus_sha256), SMALL_SHARDS, progress=False)
    assert first["encoded_shards"] == 3
    (folder / "shard-000001.npz").unlink()  # as if the job had been killed before this shard came back
    manifest = build_index(RECIPE, tiny, output, threads=1, progress=False, ray=SMALL_SHARDS)
    assert manifest["ray"]["encoded_shards"] == 1 and manifest["num_docs"] == 11
    assert manifest["ray"]["actors"] == 1  # one shard to encode: one actor loads the model, not two
    other = IndexRecipe(name="inference-free", encoder="splade-tiny", query_encoder="idf", doc_top_k=5)
    encode_shards(RECIPE, docs, folder, encoding_key(RECIPE, tiny.corpus_sha256), SMALL_SHARDS, progress=False)
    again = build_index(other, tiny, output, threads=1, progress=False, ray=SMALL_SHARDS)
    assert again["ray"]["encoded_shards"] == 3  # shards of other settings are not reused
    resized = encode_shards(RECIPE, docs, folder, encoding_key(RECIPE, tiny.corpus_sha256), replace(SMALL_SHARDS, shard_docs=5), progress=False)
    assert resized["shards"] == 3 and resized["encoded_shards"] == 3  # shards of another size hold other documents


def test_bad_settings_and_an_absent_cluster_are_clear_errors(tiny, tmp_path):
    with pytest.raises(LsrError, match="ray setting actors must be a positive integer"):
        RayEncoding(actors=0)
    with pytest.raises(LsrError, match="a BM25 index has none"):
        build_index(IndexRecipe(name="bm25"), tiny, tmp_path / "b", progress=False, ray=RayEncoding())
    with pytest.raises(LsrError, match="cannot connect to the Ray cluster at 127.0.0.1:9"):
        build_index(RECIPE, tiny, tmp_path / "r", threads=1, progress=False, ray=RayEncoding(address="127.0.0.1:9"))
    with pytest.raises(LsrError, match="expected host:port"):
        RayEncoding(address="somewhere")
    assert not (tmp_path / "r").exists() and not (tmp_path / "b").exists()


def test_the_bench_part_times_the_in_process_path_and_ray_jobs(tiny):
    from lsr.bench.distributed import encoding_jobs
    from lsr.bench.markdown import _ray_section

    part = encoding_jobs(RECIPE, tiny, cores=1)
    assert part["documents"] == 11 and set(part) == {"documents", "cores", "in-process", "ray, 1 actor x 1 threads"}
    ray_job = part["ray, 1 actor x 1 threads"]
    assert ray_job["docs_per_s"] > 0 and ray_job["peak_rss_gib"] > 0 and ray_job["ratio_to_in_process"] > 0
    assert ray_job["start_up_seconds"] > 0  # Ray's start; loading a model already cached may round to 0.0 s
    for job in ray_job, part["in-process"]:  # timed apart, start-up may exceed an 11-document job; the rate after it is the higher one
        assert job["start_up_seconds"] >= 0 and job["docs_per_s_after_start_up"] >= job["docs_per_s"]
    assert "| ray, 1 actor x 1 threads |" in "\n".join(_ray_section(part))


LUCENE_BESIDE_RAY = """
import sys
from lsr.index.ray_encoding import RayEncoding, ray_session
from lsr.search import Searcher
bm25, impact, queries = sys.argv[1], sys.argv[2], sys.argv[3:]
with Searcher.open(impact) as searcher:
    before = searcher.batch_search(queries, 5)
with ray_session(RayEncoding(actors=1, threads=1)):
    for _ in range(20):
        with Searcher.open(bm25) as lexical, Searcher.open(impact) as searcher:
            lexical.batch_search(queries, 5)
            assert searcher.batch_search(queries, 5) == before
print("searched")
"""


def test_lucene_runs_in_the_process_of_a_ray_job(bm25_index, if_index):
    """The JVM, started before Ray, keeps its SIGSEGV handling: Ray's failure handler and the faulthandler that ray.init turns
    on would otherwise end the process at the JVM's first implicit null check (run in a child, so that a crash fails only this)."""
    done = subprocess.run([sys.executable, "-c", LUCENE_BESIDE_RAY, str(bm25_index), str(if_index), *TINY_QUERIES.values()],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "searched" in done.stdout, done.stderr[-3000:]


def test_a_quiet_ray_index_prints_only_its_summary(tiny, tmp_path, capfd):
    """--quiet: warnings only, so Ray's own notes at start (its token authentication, the C++ core's log level) stay off stderr."""
    output = tmp_path / "ray"
    assert main(["index", "indexing/inference-free.yaml", "--dataset", str(tiny.root), "--output", str(output), "--ray", "--ray-actors", "1",
                 "--ray-threads", "1", "--threads", "1", "--quiet"]) == 0
    printed = capfd.readouterr()
    assert printed.err.splitlines() == ["inference-free: skipped 1 empty document(s), e.g. 'd9'"] and str(output) in printed.out
