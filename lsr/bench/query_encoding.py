"""Query encoding: each query model in torch (fp32) and as its ONNX export (fp32, int8), one query at a time on one thread.

This is the model's share of a query's latency (SPLADE siamese, dense, the dense half of a hybrid), timed
without the search. Each pass times every variant on all the queries in turn (the order rotates from
pass to pass); figures are medians over passes and each speed-up is taken within a pass. Fidelity is
the cosine between a query's ONNX vector and its torch vector (sparse: over the vocabulary).
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

MODELS = ("splade-tiny", "all-MiniLM-L6-v2")
QUERY_LENGTH = 64  # SPLADE query tokens, as in indexing/splade-tiny.yaml


def _torch_encoder(name: str, kind: str) -> Callable[[str], np.ndarray]:
    """One query -> its vector through the torch model on one thread, as a searcher encodes it."""
    from lsr.encoders.threads import torch_threads

    if kind == "sparse":
        from lsr.encoders import sparse

        model = sparse.load_sparse_encoder(name, query_length=QUERY_LENGTH)

        def encode(query: str) -> np.ndarray:
            with torch_threads(1):
                return sparse.encode(model, [query], task="query").toarray()[0]
    else:
        from lsr.encoders import dense

        model = dense.load_dense_encoder(name)

        def encode(query: str) -> np.ndarray:
            with torch_threads(1):
                return dense.encode(model, [query], "query")[0]
    return encode


def query_encoding_speed(queries: Sequence[str], folder: Path, models: Sequence[str] = MODELS, repeats: int = 3) -> dict:
    """Per model: p50 ms per query of torch fp32, ONNX fp32 and ONNX int8, the speed-ups over torch and the fidelity."""
    from lsr.encoders.onnx import FP32, INT8, OnnxEncoder, export_model, model_kind

    result = {}
    for name in models:
        kind = model_kind(name)
        export = Path(folder) / name.replace("/", "--")
        shutil.rmtree(export, ignore_errors=True)
        export.mkdir(parents=True)
        export_model(name, export, int8=True, kind=kind)
        length = QUERY_LENGTH if kind == "sparse" else None
        variants = {"torch fp32": _torch_encoder(name, kind)}
        for label, file in (("onnx fp32", FP32), ("onnx int8", INT8)):
            variants[label] = OnnxEncoder(export / file, length).run_one
        vectors = {label: np.array([encode(q) for q in queries]) for label, encode in variants.items()}  # also the warm-up
        passes = []
        labels = list(variants)
        for repeat in range(repeats):
            medians = {}
            for label in labels[repeat % len(labels):] + labels[:repeat % len(labels)]:
                times = []
                for query in queries:
                    tick = time.perf_counter()
                    variants[label](query)
                    times.append((time.perf_counter() - tick) * 1000)
                medians[label] = statistics.median(times)
            passes.append(medians)
        reference = vectors["torch fp32"]
        entry = {"kind": kind, "queries": len(queries)}
        for label in labels:
            key = label.replace(" ", "_")
            entry[f"{key}_p50_ms"] = round(statistics.median(p[label] for p in passes), 3)
            if label != "torch fp32":
                cosines = _cosines(vectors[label], reference)
                entry[f"{key}_speedup"] = round(statistics.median(p["torch fp32"] / p[label] for p in passes), 2)
                entry[f"{key}_cosine_min"] = round(float(cosines.min()), 4)
                entry[f"{key}_cosine_mean"] = round(float(cosines.mean()), 4)
        result[name] = entry
    return result


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(norms > 0, (a * b).sum(1) / np.maximum(norms, 1e-12), 1.0)
