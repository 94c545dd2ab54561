"""What each ``lsr`` command does: call the library with the parsed options, print the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lsr import config
from lsr.errors import LsrError


def _index(args) -> None:
    from lsr.data import load_dataset
    from lsr.eval.evaluate import build_recipe_index, index_path
    from lsr.index.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    dataset = load_dataset(args.dataset, args.data_dir)
    out_dir = config.out_dir(args.out_dir)
    output = Path(args.output) if args.output else index_path(recipe, dataset, out_dir)
    manifest = build_recipe_index(recipe, dataset, output, out_dir, args.threads, not args.quiet, keep_vectors=args.keep_vectors,
                                  vectors_from=args.vectors_from)
    size = manifest.get("index_bytes", manifest.get("lucene_bytes", 0))
    print(f"{output}: {manifest['kind']}, {manifest['num_docs']} documents, {size / 2**20:.1f} MiB, built in {manifest['build_seconds']} s")


def _search(args) -> None:
    from lsr.search import Searcher, TwoPhase

    two_phase = TwoPhase(*args.two_phase) if args.two_phase else None
    with Searcher.open(args.index, query_top_k=args.query_top_k, query_min_ratio=args.query_min_ratio, two_phase=two_phase,
                       query_max_df=args.query_max_df) as searcher:
        for rank, hit in enumerate(searcher.search(" ".join(args.query), k=args.k), start=1):
            print(f"{rank:>3}  {hit.score:>10.4f}  {hit.docid}")


def _evaluate(args) -> None:
    from lsr.eval.evaluate import EvalRecipe, evaluate_recipe, markdown_table

    recipe = EvalRecipe.load(args.recipe)
    rows = evaluate_recipe(recipe, args.data_dir, config.out_dir(args.out_dir), threads=args.threads, progress=not args.quiet, exact=args.exact)
    print(markdown_table(rows, f"{recipe.dataset} ({recipe.split})"))


def _leaderboard(args) -> int:
    from lsr.eval.leaderboard import run_leaderboard
    from lsr.eval.matrix import Matrix
    from lsr.eval.report import report_prefix, write_reports

    matrix = Matrix.load(args.matrix).select(_names(args.datasets), _names(args.systems))
    out_dir = config.out_dir(args.out_dir)
    board = run_leaderboard(matrix, args.data_dir, out_dir, threads=args.threads, progress=not args.quiet,
                            download=args.download, fresh=args.fresh)
    command = "make leaderboard" if not matrix.narrowed else " ".join(
        ["lsr leaderboard"] + [f"--{key} {getattr(args, key)}" for key in ("datasets", "systems") if getattr(args, key)])
    for path in write_reports(board, Path(args.output) if args.output else report_prefix(matrix, out_dir), command):
        print(f"wrote {path}")
    for line in board.summary():
        print(line)
    if not args.check:
        return 0
    problems = board.problems()
    for line in problems:
        print(f"lsr leaderboard --check: {line}", file=sys.stderr)
    print(board.check_summary())
    return 1 if problems else 0


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _evaluate_model(args) -> None:
    from lsr.data import load_dataset
    from lsr.eval.model_eval import evaluate_model, held_out_queries

    split, query_ids = held_out_queries(args.model) if args.held_out else (args.split, None)
    result = evaluate_model(args.model, load_dataset(args.dataset, args.data_dir), split, doc_max_length=args.doc_max_length,
                            query_ids=query_ids, lexical_weight=args.lexical_weight, progress=not args.quiet)
    print(json.dumps({"model": args.model, "dataset": args.dataset, "split": split, "held_out": args.held_out, **result}))


def _train(args) -> None:
    from lsr.recipe_files import parse_overrides
    from lsr.training.recipe import DenseTrainRecipe, load_training_recipe
    from lsr.training.train import train

    recipe = load_training_recipe(args.recipe, **parse_overrides(args.set))
    out_dir = config.out_dir(args.out_dir)
    output = Path(args.output) if args.output else out_dir / "models" / recipe.name
    if isinstance(recipe, DenseTrainRecipe):
        from lsr.training.dense import train_dense

        if args.resume:
            raise LsrError("--resume: dense training runs in one go (minutes); run it again without --resume")
        summary = train_dense(recipe, output, out_dir=out_dir, data_dir=args.data_dir, threads=args.threads, progress=not args.quiet,
                              validate_base=args.validate_base)
        check = summary["validation"]
        print(f"{output}: {summary['steps']} steps in {summary['minutes']} min on {len(summary['train_queries'])} queries; "
              f"{check['what']}: {check['trained']}" + (f" (untrained: {check['base']})" if check["base"] is not None else ""))
        return
    summary = train(recipe, output, out_dir=out_dir, data_dir=args.data_dir, resume=args.resume, threads=args.threads, progress=not args.quiet)
    last = summary["validation"][-1]
    print(f"{output}: {summary['steps']} steps in {summary['minutes']} min; validation nDCG@10 {last['val_nDCG@10']:.4f} "
          f"(teachers: {summary['teachers_on_validation']}), {last['avg_doc_terms']:.0f} terms/doc")


def _adapt(args) -> None:
    from lsr.data import load_dataset
    from lsr.recipe_files import parse_overrides
    from lsr.training.adapt import adapt
    from lsr.training.recipe import TrainRecipe

    if args.queries < 1:
        raise LsrError(f"--queries must be positive, got {args.queries}")
    summary = adapt(load_dataset(args.dataset, args.data_dir), TrainRecipe.load(args.recipe, **parse_overrides(args.set)),
                    config.out_dir(args.out_dir), max_queries=args.queries, threads=args.threads, progress=not args.quiet)
    print(json.dumps(summary))


def _ablate(args) -> None:
    from lsr.recipe_files import parse_overrides
    from lsr.training.ablation import AblationRecipe, run_ablation, write_results

    ablation = AblationRecipe.load(args.recipe)
    out_dir = config.out_dir(args.out_dir)
    overrides = parse_overrides(args.set)
    rows = run_ablation(ablation, args.split, args.only, overrides, out_dir, args.data_dir, args.threads, not args.quiet)
    stem = Path(args.output) if args.output else out_dir / "results" / f"ablation-{ablation.path.stem}"
    print(write_results(rows, stem, f"Ablation {ablation.path} on the {args.split} split (overrides: {overrides or 'none'})", out_dir))


def _tune_fusion(args) -> None:
    from lsr.data import load_dataset
    from lsr.eval.evaluate import markdown_table
    from lsr.eval.tune import Grid, adopt_best, tune_fusion, tuning_queries
    from lsr.index.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    if recipe.kind != "hybrid":
        raise LsrError(f"{args.recipe}: tune-fusion needs a hybrid recipe (kind: hybrid), this one is {recipe.kind}")
    dataset = load_dataset(args.dataset, args.data_dir)
    fusion = recipe.fusion
    grid = Grid(modes=_list(args.modes or fusion.mode, str, "--modes"), methods=_list(args.methods or fusion.method, str, "--methods"),
                missing=_list(args.missing or fusion.missing, str, "--missing"), depths=_list(args.depths, int, "--depths"),
                weights=_list(args.weights, float, "--weights"), rrf_ks=_list(args.rrf_ks, float, "--rrf-ks"),
                lists=len(recipe.sparse_recipes) + 1)
    out_dir = config.out_dir(args.out_dir)
    _, where = tuning_queries(recipe, dataset, args.split)
    rows = tune_fusion(recipe, dataset, args.split, grid, out_dir, args.threads, not args.quiet)
    best = rows[0]
    print(markdown_table(rows, f"{recipe.name}: fusion grid on {where} ({len(rows)} settings, best first)"))
    chosen = ", ".join(f"{k}={v}" for k, v in best.items() if k not in ("nDCG@10", "R@100") and v is not None)
    print(f"best on {args.split}: {chosen} (nDCG@10 {best['nDCG@10']})")
    if not args.dry_run:
        adopt_best(recipe, rows, where, dataset, out_dir, args.threads)
        print(f"written into {recipe.path}")


def _list(text: str, kind, option: str) -> tuple:
    try:
        values = tuple(kind(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        raise LsrError(f"{option}: cannot read {text!r} as a comma list of {kind.__name__} values") from None
    if not values:
        raise LsrError(f"{option}: give at least one value")
    return values


def _idf(args) -> None:
    from lsr.data import load_corpus
    from lsr.encoders.idf import corpus_idf
    from lsr.encoders.table import model_tokenizer, write_weights

    dataset = load_corpus(args.corpus, args.data_dir)
    table = corpus_idf((d.contents for d in dataset.corpus()), model_tokenizer(args.tokenizer), progress=not args.quiet)
    write_weights(table, args.output)
    print(f"{args.output}: {len(table)} tokens")


def _jvm_cache(args) -> None:
    from lsr.jvm.cds import build_archive
    from lsr.search.lucene import warm_up

    print(build_archive(warm_up, force=args.force))


def _bench(args) -> None:
    from lsr.bench.run import BenchSettings, default_results_dir, run_bench

    settings = BenchSettings(docs=args.docs, repeats=args.repeats, queries=args.queries, encode_docs=args.encode_docs,
                             skip=frozenset(_list(args.skip, str, "--skip")) if args.skip else frozenset(), threads=args.threads,
                             tag=args.tag)
    out_dir = config.out_dir(args.out_dir)
    paths = run_bench(settings, data_dir=args.data_dir, out_dir=out_dir,
                      results_dir=Path(args.results) if args.results else default_results_dir(out_dir), progress=not args.quiet)
    print(paths["markdown"].read_text(encoding="utf-8"))
    print(f"written: {paths['json']} and {paths['markdown']}")


COMMANDS = {"adapt": _adapt, "index": _index, "search": _search, "evaluate": _evaluate, "leaderboard": _leaderboard,
            "evaluate-model": _evaluate_model, "train": _train, "ablate": _ablate, "bench": _bench, "jvm-cache": _jvm_cache,
            "tune-fusion": _tune_fusion, "idf": _idf}
