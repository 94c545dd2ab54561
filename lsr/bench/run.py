"""``lsr bench`` / ``make bench``: run every measurement and write ``bench.json`` and ``bench.md``.

The result goes to ``<out-dir>/bench/results`` (:func:`default_results_dir`) unless a folder is
given; ``make bench`` writes the committed ``bench/results``. A new run replaces the result of the
same name (``bench``, or ``bench-<tag>`` for a run tagged to keep a partial run apart); the date
and command are inside it.

SciFact (real): BM25, inference-free (zero-shot, corpus IDF), inference-free as ``make train``
trains it (where its model exists; the bench says when it skips it) and SPLADE-tiny siamese (model
time included) on the same Lucene engine and the same search path. Synthetic (``--docs``, default 1M):
BM25 and each inference-free model over a corpus with SciFact's statistics (:mod:`lsr.bench.synthetic`),
queried with SciFact's test queries; a synthetic corpus of SciFact's own size checks the generator
against the real corpus (same size, same queries). Plus cold start, encoding throughput, indexing memory and
the pruning table. Every figure is a median over ``repeats``; ratios are taken within a repeat.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lsr
from lsr.atomic import atomic_file
from lsr.bench import markdown
from lsr.bench.pruning import (
    TWO_PHASE,
    choose_fast,
    choose_pruning,
    default_levels,
    fast_candidates,
    pruned_index,
    query_ratio_level,
    ratio_level,
    searcher_options,
)
from lsr.errors import LsrError
from lsr.index.manifest import index_bytes

log = logging.getLogger(__name__)

PARTS = ("scifact", "latency", "throughput", "coldstart", "encoding", "query_encoding", "pruning", "synthetic",
         "seismic", "milvus", "ray")  # scifact: its latency/throughput
DEFAULT = "lsr default (shipped model + BM25 channel)"
DEFAULT_EXHAUSTIVE = "lsr default, exhaustive (no two-phase)"  # the default's index searched with every query term on every document
RECIPES = {"BM25": "bm25.yaml", DEFAULT: "inference-free-bm25.yaml",
           "inference-free": "inference-free.yaml", "SPLADE-tiny": "splade-tiny.yaml"}
TWO_PHASE_NAME = f"inference-free, two-phase (>= {TWO_PHASE.ratio:g} x max, {TWO_PHASE.expansion:g}k candidates)"
TRAINED = "inference-free (trained)"  # its recipe's encoder is `make train`'s model: benched where it exists
OPTIONAL_RECIPES = {TRAINED: "inference-free-trained.yaml"}
INFERENCE_FREE = ("inference-free", DEFAULT, TRAINED)  # the systems whose vectors seed synthetic impact corpora
COLD_QUERY = "aspirin lowers the risk of colorectal cancer"


@dataclass(frozen=True)
class BenchSettings:
    """What ``lsr bench`` measures and how often (each field with a ``help`` is an option of ``lsr bench``)."""

    docs: int = field(default=1_000_000, metadata={"help": "synthetic corpus documents, cached in <out-dir>/bench (0: none)"})
    repeats: int = field(default=3, metadata={"help": "repeats of each timing"})
    queries: int = field(default=300, metadata={"help": "SciFact test queries timed per repeat (300: all)"})
    encode_docs: int = field(default=300, metadata={"help": "SciFact documents encoded by each encoding path (0 skips)"})
    skip: frozenset = field(default_factory=frozenset)
    threads: int = 2
    tag: str = field(default="", metadata={"help": "suffix of the result files (bench-TAG.json), to keep runs of separate parts apart"})

    def __post_init__(self):
        unknown = set(self.skip) - set(PARTS)
        if unknown:
            raise LsrError(f"--skip: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
        if self.repeats < 1 or self.queries < 1 or self.docs < 0 or self.encode_docs < 0:
            raise LsrError("--repeats and --queries must be positive, --docs and --encode-docs not negative")


def run_bench(settings: BenchSettings, data_dir: str | None, out_dir: Path, results_dir: Path, progress: bool = True) -> dict:
    """Run the benchmark; returns the paths of the JSON and markdown results. Each step is logged (INFO) as it starts;
    ``progress`` shows the index builds' progress bars."""
    from lsr.data import load_dataset
    from lsr.eval.evaluate import ensure_index
    from lsr.jvm.cds import build_archive
    from lsr.search.lucene import warm_up

    started = time.time()

    def say(message: str) -> None:
        log.info("[bench %6.0f s] %s", time.time() - started, message)

    dataset = load_dataset("scifact", data_dir)
    queries = list(dataset.queries("test").values())[: settings.queries]
    recipes, skipped = bench_recipes(Path(lsr.__file__).resolve().parents[1] / "indexing")
    for name, why in skipped.items():
        say(f"skipping {name}: {why}")
    say("SciFact indexes (built unless up to date)")
    indexes = {name: ensure_index(recipe, dataset, out_dir, settings.threads, progress, keep_vectors=name in INFERENCE_FREE)
               for name, recipe in recipes.items()}
    say("JVM class-data-sharing archive")
    archive = build_archive(warm_up)
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": "lsr bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "lsr bench",
        "settings": {**asdict(settings), "skip": sorted(settings.skip)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                    "jvm_cds_archive": archive.name},
        "skipped": skipped,
        "scifact": {"num_docs": {name: _manifest(ix)["num_docs"] for name, ix in indexes.items()},
                    "index_mib": {name: round(index_bytes(_manifest(ix)) / 2**20, 2) for name, ix in indexes.items()},
                    "terms_per_doc": {name: _manifest(ix).get("avg_doc_terms") for name, ix in indexes.items()}},
    }
    say("document- and query-side pruning for inference-free, chosen on SciFact train")
    result["pruning_choice"] = choose_pruning(recipes["inference-free"], dataset, indexes["inference-free"], out_dir, "train",
                                              threads=settings.threads)
    chosen = result["pruning_choice"]["chosen"]
    systems = {name: (index, {}) for name, index in indexes.items()}
    systems[DEFAULT_EXHAUSTIVE] = (indexes[DEFAULT], {"exhaustive": True})
    if chosen["doc_min_ratio"] or chosen["query_min_ratio"]:
        index = indexes["inference-free"]
        if chosen["doc_min_ratio"]:
            index = pruned_index(recipes["inference-free"], dataset, index, out_dir, None, chosen["doc_min_ratio"], settings.threads)
        systems[pruned_name(chosen)] = (index, {"query_min_ratio": chosen["query_min_ratio"]})
    systems[TWO_PHASE_NAME] = (indexes["inference-free"], {"two_phase": TWO_PHASE})
    fast = None
    if TRAINED in recipes and "synthetic" not in settings.skip and settings.docs:
        say(f"{TRAINED}: pruning chosen on SciFact train, then its fast setting (latency on {settings.docs} synthetic documents)")
        result["fast_choice"] = _fast_choice(recipes[TRAINED], dataset, indexes, settings, out_dir)
        fast = (fast_name(result["fast_choice"]), result["fast_choice"]["doc_min_ratio"], searcher_options(result["fast_choice"]["chosen"]))
        systems[fast[0]] = (result["fast_choice"]["small_index"], fast[2])
    if "scifact" not in settings.skip and not {"latency", "throughput"} <= settings.skip:
        say("SciFact latency and throughput")
        result["scifact"].update(_search_timings(systems, queries, settings))
    if "coldstart" not in settings.skip:
        say("cold start")
        from lsr.bench.coldstart import cold_start

        result["cold_start"] = {name: cold_start(ix, COLD_QUERY, repeats=max(settings.repeats, 3)) for name, ix in indexes.items()}
    if "encoding" not in settings.skip and settings.encode_docs:
        say(f"encoding {settings.encode_docs} documents both ways")
        from lsr.bench.encoding import encoding_speed

        texts = [doc.contents for _, doc in zip(range(settings.encode_docs), dataset.corpus())]
        result["encoding"] = encoding_speed(recipes["inference-free"].encoder, texts, repeats=max(2, settings.repeats - 1))
    if "query_encoding" not in settings.skip:
        say("query encoders: torch against their ONNX exports (fp32, int8), one query at a time")
        from lsr.bench.query_encoding import query_encoding_speed

        result["query_encoding"] = query_encoding_speed(queries[:100], out_dir / "bench" / "onnx", repeats=settings.repeats)
    if "synthetic" not in settings.skip and settings.docs:
        size = result["scifact"]["num_docs"]["BM25"]
        say(f"synthetic corpus of SciFact's size ({size} documents), to compare with the real one")
        sources = {name: indexes[name] for name in INFERENCE_FREE if name in indexes}
        result["synthetic_at_scifact_size"] = _synthetic(dataset, sources, queries, settings, out_dir, say, chosen, size, fast)
        say(f"synthetic corpus of {settings.docs} documents (cached under {out_dir / 'bench'})")
        result["synthetic"] = _synthetic(dataset, sources, queries, settings, out_dir, say, chosen, settings.docs, fast)
    if "seismic" not in settings.skip and settings.docs and DEFAULT in indexes:
        from lsr.bench.scale import synthetic_index
        from lsr.bench.seismic import seismic_bench

        say("Seismic: lsr's default index in Seismic's approximate index, against Lucene")
        large = {kind: synthetic_index(kind, dataset, indexes[source], settings.docs, out_dir / "bench", threads=settings.threads, name=name)[0]
                 for kind, source, name in (("impact", DEFAULT, "inference-free-bm25"), ("bm25", "inference-free", None))}
        train = list(dataset.queries("train").values())[: settings.queries]
        result["seismic"] = seismic_bench(dataset, indexes[DEFAULT], large["impact"], large["bm25"], queries, train, out_dir,
                                          settings.repeats, settings.threads, say)
    if "milvus" not in settings.skip and DEFAULT in indexes:
        from lsr.bench.milvus import milvus_bench

        result["milvus"] = milvus_bench(dataset, indexes[DEFAULT], indexes["BM25"], queries, out_dir, settings.repeats, say)
    if "ray" not in settings.skip:
        say("document encoding on Ray (1 and 2 actors) against the in-process path")
        from lsr.bench.distributed import encoding_jobs

        result["ray"] = encoding_jobs(recipes[DEFAULT], dataset, cores=settings.threads)
    if "pruning" not in settings.skip:
        say("pruning table")
        from lsr.bench.pruning import pruning_table

        result["pruning"] = pruning_table(recipes["inference-free"], dataset, indexes["inference-free"], indexes["BM25"], "test", out_dir,
                                          repeats=settings.repeats, threads=settings.threads,
                                          levels=default_levels() + [(ratio_level(chosen["doc_min_ratio"]),
                                                                      query_ratio_level(chosen["query_min_ratio"]))])
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.time() - started)
    return _write(result, results_dir)


def default_results_dir(out_dir: Path) -> Path:
    """Where ``lsr bench`` writes its result when no folder is given: under the output folder."""
    return Path(out_dir) / "bench" / "results"


def result_stem(tag: str = "") -> str:
    """The file name (without suffix) of a bench result: ``bench``, or ``bench-<tag>``."""
    return "bench" + (f"-{tag}" if tag else "")


def bench_recipes(recipes_dir: Path) -> tuple[dict, dict[str, str]]:
    """The index recipes of the benched systems, and why each optional one whose model is absent is skipped."""
    from lsr.index.recipe import IndexRecipe

    recipes = {name: IndexRecipe.load(recipes_dir / file) for name, file in RECIPES.items()}
    skipped = {}
    for name, file in OPTIONAL_RECIPES.items():
        recipe = IndexRecipe.load(recipes_dir / file)
        if Path(recipe.encoder).exists():
            recipes[name] = recipe
        else:
            skipped[name] = f"its model {recipe.encoder} is missing (`make train` builds it)"
    return recipes, skipped


def _manifest(index_dir: Path) -> dict:
    from lsr.index.manifest import read_manifest

    return read_manifest(index_dir)


def pruned_name(chosen: dict) -> str:
    """The bench's name for inference-free search at the pruning operating point ``chosen`` (see :func:`choose_pruning`)."""
    return f"inference-free, docs >= {chosen['doc_min_ratio']:g} x max, queries >= {chosen['query_min_ratio']:g} x max"


def fast_name(choice: dict) -> str:
    """The bench's name for the trained model at its fast setting (see :func:`_fast_choice`)."""
    return f"{TRAINED}, fast: docs >= {choice['doc_min_ratio']:g} x max, {choice['label']}"


def _fast_choice(recipe, dataset, indexes: dict, settings: BenchSettings, out_dir: Path) -> dict:
    """The trained model's fast setting, all chosen on SciFact train: document and query ``min_ratio`` as for
    zero-shot (:func:`choose_pruning`), then the query-side setting with the best nDCG@10 whose latency on the
    synthetic corpus is at most BM25's (:func:`choose_fast`, train queries)."""
    from lsr.bench.scale import synthetic_index

    pruning = choose_pruning(recipe, dataset, indexes[TRAINED], out_dir, "train", threads=settings.threads)
    doc_ratio, query_ratio = pruning["chosen"]["doc_min_ratio"], pruning["chosen"]["query_min_ratio"]
    small = pruned_index(recipe, dataset, indexes[TRAINED], out_dir, None, doc_ratio, settings.threads) if doc_ratio else indexes[TRAINED]
    large_bm25, _ = synthetic_index("bm25", dataset, indexes["inference-free"], settings.docs, out_dir / "bench", threads=settings.threads)
    large, _ = synthetic_index("impact", dataset, indexes[TRAINED], settings.docs, out_dir / "bench", threads=settings.threads,
                               doc_min_ratio=doc_ratio, name="inference-free-trained")
    fast = choose_fast(small, large, large_bm25, dataset, fast_candidates(query_ratio), "train", "test", settings.queries, settings.repeats,
                       settings.threads)
    return {"pruning": pruning, "doc_min_ratio": doc_ratio, "small_index": str(small), **fast}


def _search_timings(systems: dict[str, tuple[Path, dict]], queries: list[str], settings: BenchSettings) -> dict:
    """Latency and throughput of each system: an index and the options ``Searcher.open`` gets."""
    from lsr.bench.latency import latency, throughput
    from lsr.search import Searcher

    searchers = {name: Searcher.open(index, **options) for name, (index, options) in systems.items()}
    try:
        out = {}
        if "latency" not in settings.skip:
            out["latency"] = {f"k={k}": latency(searchers, queries, k, settings.repeats) for k in (10, 1000)}
        if "throughput" not in settings.skip:
            out["throughput_k1000"] = throughput(searchers, queries, 1000, repeats=settings.repeats)
        return out
    finally:
        for searcher in searchers.values():
            searcher.close()


def _synthetic(dataset, sources: dict[str, Path], queries: list[str], settings: BenchSettings, out_dir: Path, say, chosen: dict,
               num_docs: int, fast: tuple[str, float, dict] | None = None) -> dict:
    """Latency on synthetic corpora of ``num_docs``: BM25's, and one impact corpus per inference-free index in ``sources``
    (``fast``: the trained model's fast setting as (name, doc_min_ratio, Searcher.open options)); lsr's default is
    searched as its recipe says (two-phase) and exhaustively, over the same corpus."""
    from lsr.bench.scale import synthetic_index

    zero_shot = sources["inference-free"]
    plans = {"BM25": ("bm25", zero_shot, 0.0, None), "inference-free": ("impact", zero_shot, 0.0, None)}
    if chosen["doc_min_ratio"] or chosen["query_min_ratio"]:  # query pruning alone: the cached unpruned index
        plans[pruned_name(chosen)] = ("impact", zero_shot, chosen["doc_min_ratio"], None)
    if DEFAULT in sources:  # searched with its recipe's search defaults, which travel in the synthetic index's manifest
        plans[DEFAULT] = ("impact", sources[DEFAULT], 0.0, "inference-free-bm25")
    if TRAINED in sources:
        plans[TRAINED] = ("impact", sources[TRAINED], 0.0, "inference-free-trained")
        if fast:
            plans[fast[0]] = ("impact", sources[TRAINED], fast[1], "inference-free-trained")
    built = {}
    for name, (kind, source, doc_ratio, folder) in plans.items():
        say(f"synthetic {name} index")
        built[name] = synthetic_index(kind, dataset, source, num_docs, out_dir / "bench", threads=settings.threads, doc_min_ratio=doc_ratio,
                                      name=folder)
    out = {"num_docs": num_docs,
           "indexing": {name: {**{key: manifest.get(key) for key in ("num_docs", "generate_seconds", "index_seconds", "build_seconds",
                                                                     "index_threads", "index_docs_per_s", "peak_rss_bytes")},
                               "index_bytes": index_bytes(manifest)}
                        for name, (_, manifest) in built.items()}}
    options = {pruned_name(chosen): {"query_min_ratio": chosen["query_min_ratio"]}, **({fast[0]: fast[2]} if fast else {})}
    systems = {name: (index, options.get(name, {})) for name, (index, _) in built.items()}
    systems[TWO_PHASE_NAME] = (built["inference-free"][0], {"two_phase": TWO_PHASE})
    if DEFAULT in built:
        systems[DEFAULT_EXHAUSTIVE] = (built[DEFAULT][0], {"exhaustive": True})
    say("synthetic latency and throughput")
    out.update(_search_timings(systems, queries, settings))
    return out


def _write(result: dict, results_dir: Path) -> dict:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = result_stem(result["settings"].get("tag", ""))
    paths = {"json": results_dir / f"{stem}.json", "markdown": results_dir / f"{stem}.md"}
    texts = {"json": json.dumps(result, indent=2), "markdown": markdown.report(result)}
    for key, path in paths.items():
        with atomic_file(path) as tmp:
            tmp.write_text(texts[key], encoding="utf-8")
    return paths
