"""``lsr bench``'s ray part: document encoding as a Ray Data job (:mod:`lsr.index.ray_encoding`) against the in-process path.

The default index recipe's documents (SciFact's corpus) are encoded three ways on the same cores: in one process (torch on
every core), and on a local Ray with 1 actor of every core's threads and with 2 actors of half each. Each job runs in a fresh
Python process, as ``lsr index`` does, and is timed from that process's start to its end: the imports and the model loaded
(on Ray: Ray started, the actors started, each importing torch and sentence-transformers and loading the model, and Ray
stopped), every document encoded, quantised and pruned. Peak memory is that of the job's processes (Ray's included), sampled.

Each job's *start-up* is its time before the first document: in-process, the job less its encoding loop; on Ray, a job of
the same settings that encodes an empty batch (Ray's start, the actors' start with their models, Ray's stop), in a fresh
process of its own just before. The rate after start-up (documents / (job - start-up)) says what the job costs per
document once it runs, which is what a larger corpus pays.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def encoding_jobs(recipe, dataset, cores: int | None = None) -> dict:
    """docs/s, start-up and peak RSS of the in-process path and of Ray with 1 and with ``cores`` actors; ratios to the in-process docs/s."""
    from lsr.bench.fresh_process import in_fresh_process
    from lsr.index.build import non_empty
    from lsr.index.ray_encoding import RayEncoding, encode_shards, encoding_key

    cores = cores or os.cpu_count() or 1
    docs = list(non_empty(dataset.corpus(), []))
    result: dict = {"documents": len(docs), "cores": cores}
    seconds, peak, encoding = in_fresh_process(encode_in_process, recipe, docs, cores)
    result["in-process"] = _job(len(docs), seconds, seconds - encoding, peak)
    key = encoding_key(recipe, dataset.corpus_sha256)
    for actors in sorted({1, cores}):
        settings = RayEncoding(actors=actors, threads=max(1, cores // actors))
        start_up = in_fresh_process(empty_ray_job, recipe, settings)[0]
        folder = Path(tempfile.mkdtemp(prefix="lsr-ray-bench-"))
        try:
            seconds, peak, _ = in_fresh_process(encode_shards, recipe, docs, folder, key, settings, False)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        result[f"ray, {actors} actor{'s' if actors > 1 else ''} x {settings.actor_threads()} threads"] = {
            **_job(len(docs), seconds, start_up, peak), "ratio_to_in_process": round(result["in-process"]["seconds"] / seconds, 3)}
    return result


def encode_in_process(recipe, docs, cores: int) -> float:
    """The in-process path of ``lsr index`` on ``cores`` torch threads: the model loaded, then ``docs`` encoded, quantised and
    pruned chunk by chunk; returns the seconds of the encoding loop (after the imports and the model's load)."""
    from lsr.encoders import sparse
    from lsr.encoders.threads import torch_threads
    from lsr.index.build import ENCODE_CHUNK, chunked
    from lsr.index.pruning import document_rows

    with torch_threads(cores):
        model = sparse.load_sparse_encoder(recipe.encoder, document_length=recipe.doc_max_length, query_length=recipe.query_max_length)
        tick = time.perf_counter()
        for chunk in chunked(docs, ENCODE_CHUNK):
            document_rows(model, [d.contents for d in chunk], recipe)
        return time.perf_counter() - tick


def _job(docs: int, seconds: float, start_up: float, peak_bytes: int) -> dict:
    """One row of the part: the whole job's seconds and docs/s, its start-up and the rate after it, peak RSS."""
    return {"seconds": round(seconds, 1), "docs_per_s": round(docs / seconds, 1), "start_up_seconds": round(start_up, 1),
            "docs_per_s_after_start_up": round(docs / max(seconds - start_up, 1e-3), 1), "peak_rss_gib": round(peak_bytes / 2**30, 2)}


def empty_ray_job(recipe, settings) -> None:
    """A Ray job of ``settings`` that encodes nothing (the Ray part's start-up, timed by its process): Ray's start, its actors'
    start with their models (at once, as the job's pool starts them) and Ray's stop, with an empty batch."""
    from lsr.index.ray_encoding import ray_session, shard_encoder

    with ray_session(settings) as ray:
        encoder = ray.remote(num_cpus=settings.actor_threads())(shard_encoder(recipe, settings.actor_threads()))
        actors = [encoder.remote() for _ in range(settings.actors)]
        ray.get([actor.__call__.remote({"shard": [], "texts": []}) for actor in actors])
