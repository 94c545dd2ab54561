"""What each ``lsr`` command does: call the library with the parsed options, print the result (imports are lazy: a fast start)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lsr import config
from lsr.cli.parser import settings_from
from lsr.errors import LsrError
from lsr.recipe_files import parse_overrides


def _index(args) -> None:
    from lsr.eval.evaluate import index_recipe_file, index_summary

    ray = None
    if args.ray:
        from lsr.index.ray_encoding import RayEncoding

        ray = settings_from(args, RayEncoding, prefix="ray")
    elif args.ray_address or args.ray_threads:
        raise LsrError("--ray-address and --ray-threads go with --ray")
    print(index_summary(*index_recipe_file(args.recipe, args.dataset, args.data_dir, args.out_dir, args.output, args.threads, not args.quiet,
                                           keep_vectors=args.keep_vectors, vectors_from=args.vectors_from, ray=ray)))


def _search(args) -> None:
    from lsr.search import Searcher, TwoPhase

    with Searcher.open(args.index, query_top_k=args.query_top_k, query_min_ratio=args.query_min_ratio, query_max_df=args.query_max_df,
                       two_phase=TwoPhase(*args.two_phase) if args.two_phase else None, exhaustive=args.exhaustive) as searcher:
        for rank, hit in enumerate(searcher.search(" ".join(args.query), k=args.k), start=1):
            print(f"{rank:>3}  {hit.score:>10.4f}  {hit.docid}")


def _evaluate(args) -> None:
    from lsr.eval.evaluate import EvalRecipe, evaluate_recipe, markdown_table

    recipe = EvalRecipe.load(args.recipe)
    rows = evaluate_recipe(recipe, args.data_dir, args.out_dir, threads=args.threads, progress=not args.quiet, exact=args.exact)
    print(markdown_table(rows, f"{recipe.dataset} ({recipe.split})"))


def _leaderboard(args) -> int:
    from lsr.eval.report import write_leaderboard

    board, paths = write_leaderboard(args.matrix, args.datasets, args.systems, args.data_dir, args.out_dir, args.output, args.threads,
                                     not args.quiet, download=args.download, fresh=args.fresh)
    print("\n".join([f"wrote {path}" for path in paths] + board.summary()))
    problems = board.problems() if args.check else []
    for line in problems:
        print(f"lsr leaderboard --check: {line}", file=sys.stderr)
    if args.check:
        print(board.check_summary())
    return 1 if problems else 0


def _evaluate_model(args) -> None:
    from lsr.data import load_dataset
    from lsr.eval.model_eval import evaluate_model, held_out_queries

    split, query_ids = held_out_queries(args.model) if args.held_out else (args.split, None)
    result = evaluate_model(args.model, load_dataset(args.dataset, args.data_dir), split, doc_max_length=args.doc_max_length,
                            query_ids=query_ids, lexical_weight=args.lexical_weight, progress=not args.quiet)
    print(json.dumps({"model": args.model, "dataset": args.dataset, "split": split, "held_out": args.held_out, **result}))


def _train(args) -> None:
    from lsr.training.run import train_recipe

    print(train_recipe(args.recipe, args.out_dir, args.output, parse_overrides(args.set), args.data_dir, args.threads, not args.quiet,
                       resume=args.resume, validate_base=args.validate_base))


def _adapt(args) -> None:
    from lsr.training.run import adapt_corpus

    print(json.dumps(adapt_corpus(args.dataset, args.recipe, parse_overrides(args.set), args.data_dir, args.out_dir, args.queries, args.threads,
                                  not args.quiet, index_recipe_path=args.index_recipe)))


def _ablate(args) -> None:
    from lsr.training.ablation import ablate

    print(ablate(args.recipe, args.split, args.only, parse_overrides(args.set), args.out_dir, args.output, args.data_dir, args.threads,
                 not args.quiet))


def _tune_fusion(args) -> None:
    from lsr.eval.tune import Grid
    from lsr.eval.tune_recipe import tune_recipe

    for line in tune_recipe(args.recipe, args.dataset, args.data_dir, args.split, args.out_dir, settings_from(args, Grid), args.threads,
                            not args.quiet, write=not args.dry_run):
        print(line)


def _idf(args) -> None:
    from lsr.encoders.idf import write_corpus_idf

    print(f"{args.output}: {write_corpus_idf(args.corpus, args.output, args.tokenizer, args.data_dir, not args.quiet)} tokens")


def _export(args) -> None:
    if args.format == "onnx":
        from lsr.encoders.onnx import export_model, is_export
        from lsr.index.manifest import building

        output = Path(args.output or config.out_dir(args.out_dir) / "onnx" / Path(args.model.rstrip("/")).name)
        with building(output, own=is_export, what="an lsr ONNX export") as tmp:  # written beside it, renamed when complete
            export_model(args.model, tmp, int8=not args.no_int8)
            print(f"{output}: {', '.join(sorted(f.name for f in tmp.glob('*.onnx')))}")
        return
    output = Path(args.output or f"{args.index.rstrip('/')}-{args.format}")
    if args.format == "seismic":
        from lsr.eval.evaluate import index_summary
        from lsr.index.seismic import SeismicSettings, build_seismic

        print(index_summary(output, build_seismic(args.index, output, settings_from(args, SeismicSettings), threads=args.threads)))
    else:
        from lsr.index.milvus import build_milvus, milvus_summary

        print(milvus_summary(output, build_milvus(args.index, output, uri=args.uri, collection=args.collection, progress=not args.quiet)))


def _jvm_cache(args) -> None:
    from lsr.jvm.cds import build_archive
    from lsr.search.lucene import warm_up

    print(build_archive(warm_up, force=args.force))


def _results_dir(args) -> Path:
    """--results, else ``<out-dir>/bench/results``."""
    from lsr.bench.run import default_results_dir

    return Path(args.results) if args.results else default_results_dir(config.out_dir(args.out_dir))


def _bench(args) -> None:
    from lsr.bench.run import BenchSettings, run_bench

    paths = run_bench(settings_from(args, BenchSettings), args.data_dir, config.out_dir(args.out_dir), _results_dir(args), not args.quiet)
    print(paths["markdown"].read_text(encoding="utf-8") + f"\nwritten: {paths['json']} and {paths['markdown']}")


def _serve(args) -> None:
    import uvicorn

    from lsr.serve import check_address, create_app
    from lsr.serve.indexes import parse_index_arguments

    check_address(args.host, args.port)
    app = create_app(parse_index_arguments(args.indexes), max_concurrency=args.max_concurrency)
    print(f"lsr: serving on http://{args.host}:{args.port}/ (API: /search, /indexes, /healthz; OpenAPI page: /docs); Ctrl-C stops", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")


def _loadtest(args) -> int:
    from lsr.bench.loadtest import LoadSettings, run_loadtest, write_result
    from lsr.data import load_dataset
    from lsr.serve.indexes import parse_index_arguments

    queries = list(load_dataset(args.dataset, args.data_dir).queries(args.split).values())
    result = run_loadtest(parse_index_arguments(args.indexes), queries, settings_from(args, LoadSettings))
    paths = write_result(result, _results_dir(args))
    print(paths["markdown"].read_text(encoding="utf-8") + f"\nwritten: {paths['json']} and {paths['markdown']}")
    if result["load"]["errors"] or result["load"]["mismatches"]:
        print(f"lsr: error: {result['load']['errors']} failed requests and {result['load']['mismatches']} answers unlike the serial ones",
              file=sys.stderr)
        return 1
    return 0

COMMANDS = {"adapt": _adapt, "index": _index, "search": _search, "evaluate": _evaluate, "leaderboard": _leaderboard,
            "evaluate-model": _evaluate_model, "train": _train, "ablate": _ablate, "bench": _bench, "jvm-cache": _jvm_cache,
            "tune-fusion": _tune_fusion, "idf": _idf, "export": _export, "serve": _serve, "loadtest": _loadtest}
