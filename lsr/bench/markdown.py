"""The markdown note of an ``lsr bench`` result (the same numbers as its JSON)."""

from __future__ import annotations

from lsr.markdown import markdown_table


def _table(header: list[str], rows: list[list]) -> list[str]:
    """A markdown table and the blank line after it."""
    return markdown_table(header, rows) + [""]


def _latency_rows(latency: dict) -> list[list]:
    rows = []
    for k, systems in latency.items():
        for name, t in systems.items():
            rows.append([name, k, t["p50_ms"], t["p95_ms"], t.get("p50_ratio_to_bm25")])
    return rows


def _search_section(title: str, part: dict) -> list[str]:
    lines = []
    if "latency" in part:
        lines += [f"### {title}: single-thread latency (median over repeats of each pass's percentiles)", "",
                  "Each pass times the systems one after the other on all the queries (rotating order), "
                  "each after a short warm-up of its own.", ""]
        lines += _table(["system", "k", "p50 ms", "p95 ms", "p50 / BM25"], _latency_rows(part["latency"]))
    if "throughput_k1000" in part:
        lines += [f"### {title}: batch throughput, k=1000 (queries/s)", ""]
        lines += _table(["system", "1 thread", "2 threads"],
                        [[name, t["1_threads_qps"], t["2_threads_qps"]] for name, t in part["throughput_k1000"].items()])
    return lines


def _fast_section(choice: dict) -> list[str]:
    """The trained model's fast setting: how it was chosen, and every candidate's relevance and latency."""
    pruning = choice["pruning"]["chosen"]
    verdict = ("the best nDCG@10 on {split} among the settings at most BM25's p50 latency at both k" if choice["meets_bm25_latency"]
               else "no setting reached BM25's p50 latency at both k, so the one fastest at its slower k").format(split=choice["split"])
    lines = [f"## Trained model, fast setting chosen on SciFact {choice['split']}: documents >= **{choice['doc_min_ratio']:g}** x max, "
             f"**{choice['label']}**", "",
             f"Document and query `min_ratio` are chosen as for zero-shot above (documents {pruning['doc_min_ratio']:g}, queries "
             f"{pruning['query_min_ratio']:g}); then, of the query-side settings below, {verdict}. Latency: p50 ratio to BM25 on the "
             f"{choice['queries']} first {choice['split']} queries over the synthetic corpus (`{choice['large_index']}`); "
             "nDCG@10 on SciFact. The test column only reports what each setting costs.", ""]
    header = [h for h in choice["rows"][0] if h != "settings"]
    return lines + _table(header, [[row[h] for h in header] for row in choice["rows"]])


def _seismic_section(part: dict) -> list[str]:
    """Seismic against Lucene: the setting chosen on train, then relevance, recall and latency on test."""
    chosen, syn = part["chosen"], part["synthetic"]
    rule = (f"the fastest whose recall@10 reached {part['target_recall']}" if chosen["met_target"]
            else f"none reached recall@10 {part['target_recall']}, so the one of best recall")
    lines = [f"## Seismic (`lsr export seismic`): the default index, query_cut **{chosen['query_cut']}**, heap_factor "
             f"**{chosen['heap_factor']:g}**", "",
             f"Built with Seismic's default settings from the same vectors as Lucene's index (SciFact: {part['index_mib']['scifact']} MiB, "
             f"{part['build_seconds']['scifact']} s; synthetic: {part['index_mib']['synthetic']} MiB, {part['build_seconds']['synthetic']} s). "
             f"The setting, on SciFact train queries over the synthetic corpus ({syn['num_docs']:,} documents): {rule}. "
             "Recall@10 is against Lucene's exhaustive search of the same vectors.", ""]
    header = list(part["grid"][0])
    lines += _table(header, [[row[h] for h in header] for row in part["grid"]])
    lines += [f"Test queries: SciFact nDCG@10 **{part['scifact_ndcg10']['Seismic']}** through Seismic, "
              f"{part['scifact_ndcg10']['Lucene, exhaustive']} through Lucene's exhaustive search; on the synthetic corpus recall@10 "
              f"**{syn['recall_at_10']}** and single-thread latency at k=10:", ""]
    return lines + _table(["system", "k", "p50 ms", "p95 ms", "p50 / BM25"], _latency_rows({"k=10": syn["latency_k10"]}))


def _milvus_section(part: dict) -> list[str]:
    """Milvus against Lucene: the same vectors, relevance and agreement on SciFact test, then latency."""
    ndcg = part["scifact_ndcg10"]
    lines = ["## Milvus (`lsr export milvus`): the default index in the embedded milvus-lite", "",
             f"The default index's {part['num_docs']:,} vectors written into a milvus-lite collection in {part['write_seconds']} s. "
             f"SciFact test nDCG@10 **{ndcg['Milvus']}** through Milvus, {ndcg['Lucene, exhaustive']} through Lucene's exhaustive "
             f"search of the same vectors; the same top 10 for {part['same_top10']:.1%} of the {part['queries']} queries. "
             "milvus-lite is Milvus' development engine, in pure Python: its "
             "latency says nothing of a Milvus server's. Single-thread latency at k=10:", ""]
    return lines + _table(["system", "k", "p50 ms", "p95 ms", "p50 / BM25"], _latency_rows({"k=10": part["latency_k10"]}))


def _ray_section(part: dict) -> list[str]:
    """Ray encoding jobs against the in-process path: seconds, docs/s, start-up and the rate after it, peak memory."""
    lines = [f"## Document encoding on Ray (`lsr index --ray`): SciFact's {part['documents']:,} documents, {part['cores']} cores", "",
             "Each job runs in a fresh Python process, as `lsr index` does, timed from its start to its end: the imports and the model "
             "loaded (on Ray also Ray and its actors started, each actor importing torch and loading the model), every document encoded, "
             "quantised and pruned. *Start-up*: in-process, the job less its encoding loop; on Ray, a job of the same settings that "
             "encodes nothing (Ray's start, the actors' start with their models, Ray's stop), run just before. *docs/s after start-up*: "
             "documents / (job - start-up), what a larger corpus pays per document. Peak RSS: the job's processes (Ray's included).",
             ""]
    rows = [[name, run["seconds"], run["docs_per_s"], run.get("ratio_to_in_process", 1.0), run.get("start_up_seconds", ""),
             run.get("docs_per_s_after_start_up", ""), run["peak_rss_gib"]] for name, run in part.items() if isinstance(run, dict)]
    return lines + _table(["path", "seconds", "docs/s", "docs/s / in-process", "start-up s", "docs/s after start-up", "peak RSS GiB"], rows)


def report(result: dict) -> str:
    """The note: settings, then one table per measurement."""
    machine = result["machine"]
    lines = [f"# lsr bench — {result['date']}", "",
             f"Command: `{result['command']}` ({result['seconds']} s). Machine: {machine['cpus']} CPUs, Python {machine['python']}, "
             f"load average {machine['load_average_at_start']} at start and {machine.get('load_average_at_end')} at the end "
             "(a shared machine: compare ratios measured in the same run, not absolute times across runs).", "",
             f"Settings: {result['settings']}", ""]
    if result.get("skipped"):
        lines += [f"Not benched here: **{name}**, {why}." for name, why in result["skipped"].items()] + [""]
    if "pruning_choice" in result:
        choice = result["pruning_choice"]
        chosen = choice["chosen"]
        lines += [f"## Pruning chosen on SciFact {choice['split']}: documents >= **{chosen['doc_min_ratio']:g}** x max, "
                  f"queries >= **{chosen['query_min_ratio']:g}** x max", "",
                  f"Of the pairs whose nDCG@10 on {choice['split']} is within {choice['free']} of no pruning, the one with the fewest "
                  "postings per query (sum of the query terms' document frequencies); the latency tables list inference-free "
                  "search with it, the pruning table its cost on test.", ""]
        header = list(choice["rows"][0])
        lines += _table(header, [[row[h] for h in header] for row in choice["rows"]])
    if "fast_choice" in result:
        lines += _fast_section(result["fast_choice"])
    scifact = result["scifact"]
    documents = max(scifact["num_docs"].values(), default=0)
    lines += [f"## SciFact ({documents:,} documents, test queries)", ""]
    lines += _table(["index", "documents", "MiB on disk", "terms/doc"],
                    [[n, scifact["num_docs"][n], scifact["index_mib"][n], scifact["terms_per_doc"][n]] for n in scifact["num_docs"]])
    lines += _search_section("SciFact", scifact)
    if "synthetic_at_scifact_size" in result:
        lines += [f"## Synthetic corpus of SciFact's size ({result['synthetic_at_scifact_size']['num_docs']:,} documents)", "",
                  "How faithful the generator is to latency: the same queries on a synthetic corpus as large as SciFact; "
                  "compare its ratios with SciFact's above.", ""]
        lines += _search_section("Synthetic, SciFact's size", {k: v for k, v in result["synthetic_at_scifact_size"].items() if k == "latency"})
    if "synthetic" in result:
        syn = result["synthetic"]
        lines += [f"## Synthetic corpus: {syn['num_docs']:,} documents with SciFact's statistics", ""]
        lines += _table(["index", "documents", "generate s", "index s", "threads", "docs/s", "peak RSS GiB (process tree)", "MiB on disk"],
                        [[n, i["num_docs"], i["generate_seconds"], i["index_seconds"], i["index_threads"], i["index_docs_per_s"],
                          round(i["peak_rss_bytes"] / 2**30, 2) if i.get("peak_rss_bytes") else None, round(i["index_bytes"] / 2**20, 1)]
                         for n, i in syn["indexing"].items()])
        lines += _search_section("Synthetic", syn)
    if "cold_start" in result:
        lines += ["## Cold start: process start -> first result (fresh `python` process)", ""]
        lines += _table(["searcher", "median s (wall)", "min s", "median CPU s", "imports torch"],
                        [[n, c["median_s"], c["min_s"], c["median_cpu_s"], c["imports_torch"]] for n, c in result["cold_start"].items()])
    if "encoding" in result:
        e = result["encoding"]
        lines += [f"## Document encoding: {e['documents']} SciFact documents, {e['model']}, batch {e['batch_size']}, "
                  f"{e['document_length']} tokens, {e['torch_threads']} torch threads", ""]
        lines += _table(["path", "docs/s"], [["lsr splade_max_pool (length-sorted batches, MLM head on real tokens, inference mode)",
                                              e["splade_max_pool_docs_per_s"]],
                                             ["sentence-transformers encode_document (straightforward batch loop)", e["st_encode_docs_per_s"]]])
        lines += [f"Speed-up (median of per-repeat ratios): **{e['speedup']}x**; largest weight difference between the two: "
                  f"{e['max_abs_weight_difference']:.2e}.", ""]
    if "query_encoding" in result:
        lines += ["## Query encoding: one SciFact test query at a time, one thread (the query model alone, no search)", ""]
        rows = []
        for model, e in result["query_encoding"].items():
            rows.append([model, e["kind"], e["torch_fp32_p50_ms"], e["onnx_fp32_p50_ms"], f"{e['onnx_fp32_speedup']}x", e["onnx_fp32_cosine_min"],
                         e["onnx_int8_p50_ms"], f"{e['onnx_int8_speedup']}x", e["onnx_int8_cosine_min"], e["onnx_int8_cosine_mean"]])
        lines += _table(["model", "kind", "torch fp32 p50 ms", "ONNX fp32 p50 ms", "speed-up", "cosine min", "ONNX int8 p50 ms", "speed-up",
                         "cosine min", "cosine mean"], rows)
        lines += ["Speed-ups are medians of per-pass ratios; cosine: each query's ONNX vector against its torch vector. "
                  "`lsr export onnx MODEL` writes the exports; `query_backend: onnx-int8` in an index recipe searches with them.", ""]
    if "seismic" in result:
        lines += _seismic_section(result["seismic"])
    if "milvus" in result:
        lines += _milvus_section(result["milvus"])
    if "ray" in result:
        lines += _ray_section(result["ray"])
    if "pruning" in result:
        lines += ["## Pruning on SciFact test: relevance vs size vs latency (inference-free)", ""]
        header = list(result["pruning"][0])
        lines += _table(header, [[row[h] for h in header] for row in result["pruning"]])
    return "\n".join(lines)
