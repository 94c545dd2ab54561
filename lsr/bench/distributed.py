"""``lsr bench``'s ray part: document encoding as a Ray Data job (:mod:`lsr.index.ray_encoding`) against the in-process path.

The default index recipe's documents (SciFact's corpus) are encoded three ways on the same cores: in this process (torch on
every core), and on a local Ray with 1 actor of every core's threads and with 2 actors of half each. Each figure is the whole
job from its start: the model loaded (and, on Ray, Ray started and the actors with their models), every document encoded,
quantised and pruned. Peak memory is that of this process and everything it started (Ray's processes included), sampled.

Each job's *start-up* is timed apart: in-process, loading the model; on Ray, Ray's start, the actors' start with their
models (as the pool starts them: at once) and Ray's stop, timed alone with an empty batch just before the job. The
rate after start-up (documents / (job - start-up)) says what the job costs per document once it runs, which is what a
larger corpus pays.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def encoding_jobs(recipe, dataset, cores: int | None = None) -> dict:
    """docs/s, start-up and peak RSS of the in-process path and of Ray with 1 and with ``cores`` actors; ratios to the in-process docs/s."""
    from lsr.bench.memory import PeakRSS
    from lsr.encoders import sparse
    from lsr.encoders.threads import torch_threads
    from lsr.index.build import ENCODE_CHUNK, chunked, non_empty
    from lsr.index.pruning import prune_rows, quantise
    from lsr.index.ray_encoding import RayEncoding, encode_shards, encoding_key

    cores = cores or os.cpu_count() or 1
    docs = list(non_empty(dataset.corpus(), []))
    result: dict = {"documents": len(docs), "cores": cores}
    with PeakRSS() as peak, torch_threads(cores):
        tick = time.perf_counter()
        model = sparse.load_sparse_encoder(recipe.encoder, document_length=recipe.doc_max_length, query_length=recipe.query_max_length)
        loaded = time.perf_counter() - tick
        for chunk in chunked(docs, ENCODE_CHUNK):
            prune_rows(quantise(sparse.encode(model, [d.contents for d in chunk], task="document", batch_size=recipe.batch_size),
                                recipe.doc_scale), recipe.doc_top_k, recipe.doc_min_ratio)
        seconds = time.perf_counter() - tick
    del model
    result["in-process"] = _job(len(docs), seconds, loaded, peak.bytes)
    key = encoding_key(recipe, dataset.corpus_sha256)
    for actors in sorted({1, cores}):
        settings = RayEncoding(actors=actors, threads=max(1, cores // actors))
        start_up = ray_start_up(recipe, settings)
        folder = Path(tempfile.mkdtemp(prefix="lsr-ray-bench-"))
        try:
            with PeakRSS() as peak:
                tick = time.perf_counter()
                encode_shards(recipe, docs, folder, key, settings, progress=False)
                seconds = time.perf_counter() - tick
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        result[f"ray, {actors} actor{'s' if actors > 1 else ''} x {settings.actor_threads()} threads"] = {
            **_job(len(docs), seconds, start_up, peak.bytes), "ratio_to_in_process": round(result["in-process"]["seconds"] / seconds, 3)}
    return result


def _job(docs: int, seconds: float, start_up: float, peak_bytes: int) -> dict:
    """One row of the part: the whole job's seconds and docs/s, its start-up and the rate after it, peak RSS."""
    return {"seconds": round(seconds, 1), "docs_per_s": round(docs / seconds, 1), "start_up_seconds": round(start_up, 1),
            "docs_per_s_after_start_up": round(docs / max(seconds - start_up, 1e-3), 1), "peak_rss_gib": round(peak_bytes / 2**30, 2)}


def ray_start_up(recipe, settings) -> float:
    """Seconds of a Ray job of ``settings`` that encode nothing: Ray's start, its actors' start with their models (at once, as the
    job's pool starts them) and Ray's stop, timed with an empty batch."""
    from lsr.index.ray_encoding import ray_session, shard_encoder

    tick = time.perf_counter()
    with ray_session(settings) as ray:
        encoder = ray.remote(num_cpus=settings.actor_threads())(shard_encoder(recipe, settings.actor_threads()))
        actors = [encoder.remote() for _ in range(settings.actors)]
        ray.get([actor.__call__.remote({"shard": [], "texts": []}) for actor in actors])
    return time.perf_counter() - tick
