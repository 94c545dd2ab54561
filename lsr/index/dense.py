"""Corpus -> dense index: document vectors from a sentence-transformers model, in faiss.

An index directory holds ``manifest.json`` (kind ``dense``), ``vectors.npy`` (float32, one row per
document, read memory-mapped by the hybrid's rerank mode), ``docids.json`` (the row order) and
``index.faiss`` (``IndexFlatIP``: exact inner product, or ``IndexHNSWFlat``). Documents are the same
as in the sparse indexes: title + text, empty ones skipped and listed. Built in ``<output>.partial``
and renamed when complete, like every lsr index.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

import lsr
from lsr.encoders.names import resolve_model
from lsr.errors import LsrError
from lsr.eval.beir import Dataset
from lsr.index.build import ENCODE_CHUNK, chunked, non_empty
from lsr.index.manifest import DOCIDS, FAISS_FILE, MANIFEST, VECTORS, building, directory_size
from lsr.index.recipe import DenseRecipe


def faiss_index(recipe: DenseRecipe, vectors: np.ndarray) -> faiss.Index:
    """The faiss index of ``recipe`` holding ``vectors`` (row i = document i)."""
    dim = vectors.shape[1]
    if recipe.faiss_index == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, recipe.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = recipe.ef_construction
    index.add(vectors)
    return index


def build_dense_index(recipe: DenseRecipe, dataset: Dataset, output: str | Path, threads: int = 2, progress: bool = True) -> dict:
    """Encode ``dataset``'s documents with ``recipe``'s model into a faiss index at ``output``; returns the manifest."""
    from lsr.encoders import dense  # torch is needed only here

    started = time.perf_counter()
    faiss.omp_set_num_threads(threads)
    model = dense.load_dense_encoder(recipe.encoder, recipe.max_length)
    skipped: list[str] = []
    doc_ids: list[str] = []
    parts: list[np.ndarray] = []
    encode_seconds = 0.0
    with building(output) as tmp:
        bar = tqdm(desc=f"{recipe.name}: encode", unit="doc", total=dataset.corpus_size, disable=not progress)
        for chunk in chunked(non_empty(dataset.corpus(), skipped), ENCODE_CHUNK):
            tick = time.perf_counter()
            parts.append(dense.encode(model, [d.contents for d in chunk], "document", recipe.document_prompt, recipe.normalize, recipe.batch_size))
            encode_seconds += time.perf_counter() - tick
            doc_ids.extend(d.id for d in chunk)
            bar.update(len(chunk))
        bar.close()
        if not doc_ids:
            raise LsrError(f"{dataset.corpus_path}: no non-empty documents to index")
        vectors = np.concatenate(parts)
        np.save(tmp / VECTORS, vectors)
        (tmp / DOCIDS).write_text(json.dumps(doc_ids), encoding="utf-8")
        faiss.write_index(faiss_index(recipe, vectors), str(tmp / FAISS_FILE))
        manifest = {
            "lsr_version": lsr.__version__,
            "recipe": recipe.__dict__,
            "recipe_fingerprint": recipe.fingerprint(),
            "kind": "dense",
            "query": {"type": "dense", "model": resolve_model(recipe.encoder), "max_length": recipe.max_length,
                      "prompt": recipe.query_prompt, "normalize": recipe.normalize},
            "faiss": {"index": recipe.faiss_index, "dim": int(vectors.shape[1]), "ef_search": recipe.ef_search},
            "dataset": dataset.name,
            "corpus": {"path": str(dataset.corpus_path), "sha256": dataset.corpus_sha256},
            "num_docs": len(doc_ids),
            "skipped_empty": skipped,
            "index_bytes": directory_size(tmp),
            "build_seconds": round(time.perf_counter() - started, 1),
            "encode_seconds": round(encode_seconds, 1),
            "encode_docs_per_s": round(len(doc_ids) / max(encode_seconds, 1e-9), 1),
        }
        if skipped:
            print(f"{recipe.name}: skipped {len(skipped)} empty document(s), e.g. {skipped[0]!r}")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
