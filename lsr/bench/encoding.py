"""Document encoding throughput: lsr's SPLADE path against the straightforward batch loop, same run, same documents.

The straightforward loop is sentence-transformers' ``encode_document`` (batches of 32 in corpus
order, padded, the full ``batch x length x 30522`` logits materialised before max pooling). lsr's
path (:func:`lsr.encoders.sparse.splade_max_pool`) sorts the documents by length, runs the MLM head
on real tokens only and pools raw logits, under ``torch.inference_mode``. Both are timed
alternately, ``repeats`` times, after a warm-up; the outputs are compared too.
"""

from __future__ import annotations

import statistics
import time
from typing import Sequence


def encoding_speed(model_name: str, texts: Sequence[str], repeats: int = 2, batch_size: int = 32, document_length: int = 256) -> dict:
    """docs/s of both paths (medians), the speed-up (median of per-repeat ratios) and the largest weight difference."""
    import torch

    from lsr.encoders import sparse

    model = sparse.load_sparse_encoder(model_name, document_length=document_length)
    texts = list(texts)

    def fast():
        return sparse.encode(model, texts, task="document", batch_size=batch_size)

    def plain():
        with torch.inference_mode():
            return sparse.to_csr(model.encode_document(texts, batch_size=batch_size, convert_to_sparse_tensor=True, show_progress_bar=False))

    sparse.encode(model, texts[:8], task="document", batch_size=batch_size)  # warm-up
    model.encode_document(texts[:8], batch_size=batch_size, show_progress_bar=False)
    speeds: dict[str, list[float]] = {"fast": [], "plain": []}
    outputs = {}
    for _ in range(repeats):
        for name, run in (("plain", plain), ("fast", fast)):
            tick = time.perf_counter()
            outputs[name] = run()
            speeds[name].append(len(texts) / (time.perf_counter() - tick))
    difference = abs(outputs["fast"] - outputs["plain"]).max() if outputs["fast"].nnz else 0.0
    return {
        "model": model_name,
        "documents": len(texts),
        "batch_size": batch_size,
        "document_length": document_length,
        "torch_threads": torch.get_num_threads(),
        "splade_max_pool_docs_per_s": round(statistics.median(speeds["fast"]), 1),
        "st_encode_docs_per_s": round(statistics.median(speeds["plain"]), 1),
        "speedup": round(statistics.median(f / p for f, p in zip(speeds["fast"], speeds["plain"])), 2),
        "max_abs_weight_difference": float(difference),
    }
