"""Build BM25 and impact indexes of a synthetic corpus (see :mod:`lsr.bench.synthetic`), measuring memory.

The indexes land in ``<out>/synthetic-<N>/<name>[-ratio<r>]`` (name: ``bm25``, ``inference-free`` or the
caller's, one per source model) with ordinary lsr manifests, so
``Searcher.open`` searches them like any other; the impact index borrows the query side (tokenizer
and IDF table) of the real index its vectors were drawn from. Both are merged into one segment, as
SciFact's indexes are, so that the corpora differ in size only. A complete index is reused when its
manifest records the same settings, so reruns skip the generation.

Each build runs in a child process (``python -m lsr.bench.scale``) whose JVM heap is capped at
``INDEX_HEAP``; the parent samples the peak RSS of the whole process tree (the Python generator,
its in-process JVM for impacts, Anserini's indexing JVM for BM25) and records it in the manifest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import lsr
from lsr.bench.memory import PeakRSS
from lsr.data import Dataset, load_dataset
from lsr.errors import LsrError
from lsr.index.manifest import LUCENE_DIR, QUERY_DIR, Manifest, building, directory_size, read_manifest, write_manifest

INDEX_HEAP = "1g"  # -Xmx of the indexing JVM
INDEX_BUFFER_MB = 256  # Lucene's RAM buffer before a segment is flushed (Anserini's default, 4096, would not fit)
NAMES = {"bm25": "bm25", "impact": "inference-free"}


def synthetic_index(kind: str, dataset: Dataset, source_index: Path, num_docs: int, out_dir: Path,
                    threads: int = 2, seed: int = 0, doc_min_ratio: float = 0.0, name: str | None = None) -> tuple[Path, Manifest]:
    """The folder and manifest of a synthetic ``kind`` (``bm25`` or ``impact``) index of ``num_docs`` documents, built unless cached.

    ``doc_min_ratio`` prunes each synthetic impact vector as ``IndexRecipe.doc_min_ratio`` prunes real ones.
    ``name`` (default ``bm25`` / ``inference-free``) names the folder, so impact corpora drawn from different models sit side by side.
    """
    if doc_min_ratio and kind != "impact":
        raise LsrError("document pruning applies to impact indexes only")
    output = Path(out_dir) / f"synthetic-{num_docs}" / ((name or NAMES[kind]) + (f"-ratio{doc_min_ratio:g}" if doc_min_ratio else ""))
    settings = _settings(kind, dataset, source_index, num_docs, seed, doc_min_ratio)
    try:
        manifest = read_manifest(output)
        if manifest.get("synthetic") == settings:
            return output, manifest
    except LsrError:
        pass
    command = [sys.executable, "-m", "lsr.bench.scale", kind, str(dataset.root), str(source_index), str(num_docs), str(output),
               "--threads", str(threads), "--seed", str(seed), "--doc-min-ratio", str(doc_min_ratio)]
    python_path = os.pathsep.join(filter(None, [str(Path(lsr.__file__).parents[1]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "LSR_JAVA_HEAP": INDEX_HEAP, "PYTHONPATH": python_path}
    with PeakRSS() as peak:
        status = subprocess.run(command, env=env).returncode
    if status != 0:
        raise LsrError(f"building the synthetic {kind} index failed (exit {status}): {' '.join(command)}")
    manifest = read_manifest(output)
    manifest["peak_rss_bytes"] = peak.bytes
    write_manifest(output, manifest)
    return output, manifest


def _settings(kind: str, dataset: Dataset, source_index: Path, num_docs: int, seed: int, doc_min_ratio: float) -> dict:
    from lsr.bench.synthetic import BACKGROUND, PRIMARY, SECONDARY

    source = read_manifest(source_index)
    if kind == "impact" and source["kind"] != "impact":
        raise LsrError(f"{source_index}: the synthetic impact corpus needs an impact index built with --keep-vectors, not {source['kind']}")
    return {"kind": kind, "num_docs": num_docs, "seed": seed, "mixture": {"primary": PRIMARY, "secondary": SECONDARY, "background": BACKGROUND},
            "segments": 1,
            "corpus_sha256": dataset.corpus_sha256,
            "source_fingerprint": source.get("recipe_fingerprint") if kind == "impact" else None, "doc_min_ratio": doc_min_ratio}


def build(kind: str, dataset: Dataset, source_index: Path, num_docs: int, output: Path, threads: int, seed: int,
          doc_min_ratio: float = 0.0) -> Manifest:
    """Generate and index the synthetic corpus in this process (what the child of :func:`synthetic_index` runs)."""
    from lsr.bench import synthetic

    started = time.perf_counter()
    with building(output) as tmp:
        if kind == "bm25":
            from lsr.index.build import anserini_index

            real = synthetic.RealDocuments.from_texts(doc.contents for doc in dataset.corpus())
            written = synthetic.write_shards(synthetic.text_records(synthetic.synthetic_texts(real, num_docs, seed)), tmp / "collection")
            generated = time.perf_counter()
            indexed = anserini_index("JsonCollection", tmp / "collection", tmp / LUCENE_DIR, threads,
                                     ["-memoryBuffer", str(INDEX_BUFFER_MB), "-optimize"])
            shutil.rmtree(tmp / "collection")
            if indexed != written:
                raise LsrError(f"Anserini indexed {indexed} of {written} synthetic documents (see {tmp / 'anserini.log'})")
            query_side = {"type": "bm25", "k1": 0.9, "b": 0.4}
        else:
            from lsr.index.impact_writer import ImpactIndexWriter

            real = synthetic.RealDocuments.from_collection(Path(source_index) / "collection")
            generated = time.perf_counter()  # generation and indexing interleave: both count as indexing
            with ImpactIndexWriter(tmp / LUCENE_DIR, ram_buffer_mb=INDEX_BUFFER_MB) as writer:
                for i, text in enumerate(synthetic.synthetic_vectors(real, num_docs, seed, min_ratio=doc_min_ratio)):
                    writer.add_text(f"s{i}", text)
                writer.force_merge(1)
            indexed = writer.count
            shutil.copytree(Path(source_index) / QUERY_DIR, tmp / QUERY_DIR)
            query_side = read_manifest(source_index)["query"]
        finished = time.perf_counter()
        manifest: Manifest = {
            "lsr_version": lsr.__version__,
            "kind": kind,
            "query": query_side,
            "dataset": f"synthetic-{num_docs} (from {dataset.name})",
            "num_docs": indexed,
            "skipped_empty": [],
            "index_bytes": directory_size(tmp / LUCENE_DIR),
            "synthetic": _settings(kind, dataset, source_index, num_docs, seed, doc_min_ratio),
            "generate_seconds": round(generated - started, 1),
            "index_seconds": round(finished - generated, 1),
            "build_seconds": round(finished - started, 1),
            "index_threads": threads if kind == "bm25" else 1,
            "index_docs_per_s": round(indexed / max(finished - started, 1e-9), 1),
        }
        write_manifest(tmp, manifest)
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Child-process entry point: build one synthetic index."""
    parser = argparse.ArgumentParser(prog="python -m lsr.bench.scale", description="build one synthetic index (run by lsr bench)")
    parser.add_argument("kind", choices=sorted(NAMES))
    parser.add_argument("dataset")
    parser.add_argument("source_index")
    parser.add_argument("num_docs", type=int)
    parser.add_argument("output")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doc-min-ratio", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        build(args.kind, load_dataset(args.dataset), Path(args.source_index), args.num_docs, Path(args.output), args.threads, args.seed,
              args.doc_min_ratio)
    except LsrError as error:
        sys.exit(f"lsr: error: {error}")


if __name__ == "__main__":
    main()
