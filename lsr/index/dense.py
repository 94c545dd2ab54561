"""Corpus -> dense index: document vectors from a sentence-transformers model, in faiss.

An index directory holds ``manifest.json`` (kind ``dense``), ``vectors.npy`` (float32, one row per
document, read memory-mapped by the hybrid's rerank mode), ``docids.json`` (the row order) and
``index.faiss`` (``IndexFlatIP``: exact inner product, or ``IndexHNSWFlat``). Documents are the same
as in the sparse indexes: title + text, empty ones skipped and listed. Built in ``<output>.partial``
and renamed when complete, like every lsr index.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from lsr.config import check_threads
from lsr.data import Dataset
from lsr.encoders.names import resolve_model
from lsr.errors import LsrError
from lsr.index.build import ENCODE_CHUNK, chunked, non_empty, write_query_onnx
from lsr.index.check import check_index, read_doc_ids
from lsr.index.manifest import DOCIDS, FAISS_FILE, MANIFEST, VECTORS, Manifest, building, directory_size, read_manifest, write_manifest
from lsr.index.recipe import DenseRecipe, check_build_arguments
from lsr.version import __version__

log = logging.getLogger(__name__)


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


def same_documents(recipe: DenseRecipe, dataset: Dataset, siblings: Path) -> Path | None:
    """A dense index under ``siblings`` whose document vectors ``recipe`` would reproduce (same corpus, same
    document settings), or None."""
    for manifest_path in sorted(siblings.glob(f"*/{MANIFEST}")):
        try:
            manifest = check_index(manifest_path.parent)  # a damaged sibling is no source
            if (manifest.get("kind") == "dense" and manifest["corpus"]["sha256"] == dataset.corpus_sha256
                    and DenseRecipe(**manifest["recipe"]).documents_fingerprint() == recipe.documents_fingerprint()):
                return manifest_path.parent
        except (LsrError, KeyError, TypeError, ValueError):
            continue  # not a dense index of this lsr version: build instead
    return None


def build_dense_index(recipe: DenseRecipe, dataset: Dataset, output: str | Path, threads: int = 2, progress: bool = True) -> Manifest:
    """Encode ``dataset``'s documents with ``recipe``'s model into a faiss index at ``output``; returns the manifest.

    When a sibling index of ``output`` holds the same document vectors (a recipe that differs only on the
    query side), its vectors are copied instead of encoding the corpus again."""
    from lsr.encoders import dense  # torch is needed only here

    threads = check_threads(threads, "build_dense_index's threads")
    check_build_arguments(recipe, DenseRecipe, dataset, output)
    started = time.perf_counter()
    checksum = dataset.corpus_sha256  # before the corpus is read
    faiss.omp_set_num_threads(threads)
    output = Path(output)
    source = same_documents(recipe, dataset, output.parent) if output.parent.is_dir() else None
    skipped: list[str] = []
    doc_ids: list[str] = []
    parts: list[np.ndarray] = []
    encode_seconds = 0.0
    with building(output) as tmp:
        if source is not None:
            log.info("%s: document vectors copied from %s (same documents and document settings)", recipe.name, source)
            parts.append(np.load(source / VECTORS))
            doc_ids = read_doc_ids(source, read_manifest(source))
            skipped = list(read_manifest(source)["skipped_empty"])
            encode_seconds = float(read_manifest(source).get("encode_seconds", 0.0))
        else:
            model = dense.load_dense_encoder(recipe.encoder, recipe.max_length)
            bar = tqdm(desc=f"{recipe.name}: encode", unit="doc", total=dataset.corpus_size, disable=not progress)
            for chunk in chunked(non_empty(dataset.corpus(), skipped), ENCODE_CHUNK):
                tick = time.perf_counter()
                parts.append(dense.encode(model, [d.contents for d in chunk], "document", recipe.document_prompt, recipe.normalize,
                                          recipe.batch_size))
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
        manifest: Manifest = {
            "lsr_version": __version__,
            "recipe": recipe.__dict__,
            "recipe_fingerprint": recipe.fingerprint(),
            "kind": "dense",
            "query": {"type": "dense", "model": resolve_model(recipe.query_encoder or recipe.encoder), "max_length": recipe.max_length,
                      "prompt": recipe.query_prompt, "normalize": recipe.normalize},
            "faiss": {"index": recipe.faiss_index, "dim": int(vectors.shape[1]), "ef_search": recipe.ef_search},
            "dataset": dataset.name,
            "corpus": {"path": str(dataset.corpus_path), "sha256": checksum},
            "num_docs": len(doc_ids),
            "skipped_empty": skipped,
            "index_bytes": directory_size(tmp),
            "build_seconds": round(time.perf_counter() - started, 1),
            "encode_seconds": round(encode_seconds, 1),
            "document_vectors_from": str(source) if source is not None else None,
            "encode_docs_per_s": round(len(doc_ids) / max(encode_seconds, 1e-9), 1),
        }
        if recipe.query_backend != "torch":
            query_model = dense.load_dense_encoder(recipe.query_encoder or recipe.encoder, recipe.max_length)
            manifest["query"].update(write_query_onnx(query_model, tmp, recipe.query_backend))
        if skipped:
            log.warning("%s: skipped %d empty document(s), e.g. %r", recipe.name, len(skipped), skipped[0])
        dataset.check_corpus_unchanged(checksum)
        write_manifest(tmp, manifest)
    return manifest
