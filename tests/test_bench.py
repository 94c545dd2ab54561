"""The speed work's logic: synthetic corpus statistics, pruning, the direct Lucene search path and
the direct impact writer (same hits as Anserini's own searchers and indexer). No timings asserted."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from lsr import Hit, Searcher
from lsr.bench.synthetic import RealDocuments, synthetic_texts, synthetic_vectors, text_records, write_shards
from lsr.errors import LsrError
from lsr.index.build import build_index
from lsr.index.impact_writer import SEP, ImpactIndexWriter
from lsr.index.manifest import LUCENE_DIR, read_manifest
from lsr.index.pruning import prune_rows, prune_weights
from lsr.index.recipe import IndexRecipe
from lsr.jvm import jclass
from lsr.search.searcher import TwoPhase
from tests.conftest import TINY_QUERIES

QUERIES = list(TINY_QUERIES.values()) + ["aspirin", "cancer risk in children and adults", "zzzz unknown"]


# --- synthetic corpus -------------------------------------------------------------------------

def _two_topics(rng, docs=400):
    """Real texts whose words come from one of two disjoint vocabularies (``a*`` or ``b*``), Zipf-like."""
    probs = 1 / np.arange(1, 51)
    texts = []
    for i, n in enumerate(rng.integers(5, 40, size=docs)):
        topic = "ab"[i % 2]
        texts.append(" ".join(rng.choice([f"{topic}{j}" for j in range(50)], size=n, p=probs / probs.sum())))
    return texts


def _topic_purity(docs):
    """Mean share of a document's words or terms that belong to its majority topic."""
    shares = []
    for words in docs:
        a = sum(w.startswith("a") for w in words)
        shares.append(max(a, len(words) - a) / len(words))
    return float(np.mean(shares))


def test_synthetic_texts_keep_lengths_unigrams_and_co_occurrence():
    real = _two_topics(np.random.default_rng(1))
    stats = RealDocuments.from_texts(real + ["", "   "])  # empty texts are not documents
    assert len(stats.sizes) == len(real)
    fake = list(synthetic_texts(stats, 3000, seed=0))
    assert len(fake) == 3000 and all(fake)
    lengths = np.array([len(t.split()) for t in fake])
    assert abs(lengths.mean() - stats.sizes.mean()) < 0.05 * stats.sizes.mean()
    real_counts = Counter(w for t in real for w in t.split())
    fake_counts = Counter(w for t in fake for w in t.split())
    total_real, total_fake = sum(real_counts.values()), sum(fake_counts.values())
    assert max(abs(fake_counts[w] / total_fake - c / total_real) for w, c in real_counts.items()) < 0.01  # unigram shares kept
    # Words of one real document stay together: independent draws would mix the topics half and half.
    assert _topic_purity([t.split() for t in fake]) > 0.7
    assert list(synthetic_texts(stats, 3000, seed=0)) == fake and list(synthetic_texts(stats, 50, seed=1)) != fake[:50]  # seeded


def _collection(tmp_path, vectors):
    folder = tmp_path / "collection"
    write_shards((json.dumps({"id": f"d{i}", "vector": v}) for i, v in enumerate(vectors)), folder, shard_docs=7)
    return folder


def test_synthetic_vectors_keep_sizes_weights_and_co_occurrence(tmp_path):
    rng = np.random.default_rng(2)
    real = [{w: int(rng.integers(1, 100)) for w in text.split()} for text in _two_topics(rng, 300)]
    stats = RealDocuments.from_collection(_collection(tmp_path, real + [{}]))
    assert len(list(tmp_path.joinpath("collection").glob("*.jsonl"))) == 43 and len(stats.sizes) == 300  # 301 docs in shards of 7
    fake = [[tuple(tok.split(SEP)) for tok in text.split(" ")] for text in synthetic_vectors(stats, 3000, seed=0)]
    assert all(len({t for t, _ in v}) == len(v) for v in fake)  # a term at most once per document
    sizes = np.array([len(v) for v in fake])
    assert 0.85 * stats.sizes.mean() < sizes.mean() < 1.05 * stats.sizes.mean()  # terms drawn twice are merged
    real_weights = {(t, str(w)) for v in real for t, w in v.items()}
    assert all(pair in real_weights for v in fake for pair in v)  # every (term, weight) is a real posting
    real_df, fake_df = Counter(t for v in real for t in v), Counter(t for v in fake for t, _ in v)
    assert abs(fake_df["a0"] / len(fake) - real_df["a0"] / len(real)) < 0.1 and fake_df["a0"] > fake_df["a40"]
    assert _topic_purity([[t for t, _ in v] for v in fake]) > 0.7


def test_texts_and_vectors_of_one_seed_mix_the_same_real_documents(tmp_path):
    real = [f"u{i}x u{i}y u{i}z v{i}" for i in range(40)]  # words unique to each real document
    texts = RealDocuments.from_texts(real)
    vectors = RealDocuments.from_collection(_collection(tmp_path, [{w: 1 for w in t.split()} for t in real]))
    with pytest.raises(LsrError, match="real vectors"):
        next(synthetic_vectors(texts, 1))

    def sources(words):
        return {w[1:-1] if w.startswith("u") else w[1:] for w in words}

    text_docs = list(synthetic_texts(texts, 500, seed=3))
    vector_docs = [[tok.split(SEP)[0] for tok in v.split(" ")] for v in synthetic_vectors(vectors, 500, seed=3)]
    # Background words may come from anywhere; the words drawn from the primary document agree.
    agree = [bool(sources(t.split()) & sources(v)) for t, v in zip(text_docs, vector_docs)]
    assert np.mean(agree) > 0.9


def test_text_records_are_json_collection_lines():
    line = next(text_records(["a b"]))
    assert json.loads(line) == {"id": "s0", "contents": "a b"}


# --- pruning -------------------------------------------------------------------------------------

def test_prune_weights_top_k_and_ratio():
    weights = {"a": 10, "b": 50, "c": 20, "d": 50, "e": 4}
    assert prune_weights(weights) == weights
    assert prune_weights(weights, top_k=2) == {"b": 50, "d": 50}
    assert prune_weights(weights, top_k=3) == {"b": 50, "d": 50, "c": 20}
    assert prune_weights(weights, min_ratio=0.2) == {"b": 50, "d": 50, "c": 20, "a": 10}
    assert prune_weights(weights, top_k=3, min_ratio=0.5) == {"b": 50, "d": 50}
    assert prune_weights({}, top_k=1) == {}


def test_prune_rows_matches_prune_weights_row_by_row():
    rng = np.random.default_rng(3)
    matrix = sp.random(20, 40, density=0.3, random_state=4, format="csr", dtype=np.float64)
    matrix.data = rng.integers(1, 6, size=matrix.nnz).astype(np.int32)  # many ties
    matrix = matrix.astype(np.int32)
    for top_k, ratio in ((3, 0.0), (None, 0.5), (5, 0.4)):
        pruned = prune_rows(matrix, top_k, ratio)
        for row in range(matrix.shape[0]):
            a, b = matrix.indptr[row], matrix.indptr[row + 1]
            expected = prune_weights(dict(zip(matrix.indices[a:b].tolist(), matrix.data[a:b].tolist())), top_k, ratio)
            c, d = pruned.indptr[row], pruned.indptr[row + 1]
            assert dict(zip(pruned.indices[c:d].tolist(), pruned.data[c:d].tolist())) == expected


def test_pruning_settings_are_checked_and_fingerprinted():
    with pytest.raises(LsrError, match="top_k"):
        IndexRecipe(name="x", encoder="splade-tiny", doc_top_k=0)
    with pytest.raises(LsrError, match="min_ratio"):
        IndexRecipe(name="x", encoder="splade-tiny", doc_min_ratio=1.5)
    with pytest.raises(LsrError, match="BM25"):
        IndexRecipe(name="x", doc_top_k=5)
    plain = IndexRecipe(name="x", encoder="splade-tiny")
    assert IndexRecipe(name="x", encoder="splade-tiny", doc_top_k=8).fingerprint() != plain.fingerprint()


def test_doc_pruned_index_from_kept_vectors(tmp_path, tiny, if_index):
    recipe = IndexRecipe(name="if-top5", encoder="splade-tiny", query_encoder="idf", doc_top_k=5)
    manifest = build_index(recipe, tiny, tmp_path / "pruned", threads=1, keep_vectors=True, progress=False, vectors_from=if_index)
    assert manifest["avg_doc_terms"] <= 5 and manifest["num_docs"] == read_manifest(if_index)["num_docs"]
    assert manifest["skipped_empty"] == read_manifest(if_index)["skipped_empty"] and "encode_seconds" not in manifest
    def vectors(index):
        lines = next((index / "collection").glob("*.jsonl")).read_text().splitlines()
        return {json.loads(line)["id"]: json.loads(line)["vector"] for line in lines}

    kept, pruned = vectors(if_index), vectors(tmp_path / "pruned")
    assert all(pruned[d] == prune_weights(kept[d], top_k=5) for d in kept)
    with Searcher.open(tmp_path / "pruned") as searcher:
        assert searcher.search("aspirin colorectal cancer", k=3)
    other = IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf", doc_scale=50, doc_top_k=5)
    with pytest.raises(LsrError, match="doc_scale"):
        build_index(other, tiny, tmp_path / "bad", threads=1, progress=False, vectors_from=if_index)


def test_query_pruning_keeps_the_heaviest_query_terms(if_index):
    with Searcher.open(if_index) as full, Searcher.open(if_index, query_top_k=2) as pruned:
        query = "Does aspirin reduce colorectal cancer risk?"
        kept = prune_weights(full.quantised(query), top_k=2)
        assert pruned.quantised(query) == kept and len(kept) == 2
        assert [tuple(h) for h in pruned.search(query, k=5)] == full._lucene.search(full._lucene.weighted_query(kept), 5)
    with pytest.raises(LsrError, match="query pruning"):
        Searcher.open(if_index, query_min_ratio=2.0)


def test_query_max_df_drops_the_query_terms_most_of_the_index_holds(if_index):
    """Terms in more than `query_max_df` of the documents (counted from the kept vectors) leave the query, in Java as in Python."""
    vectors = [json.loads(line)["vector"] for shard in (if_index / "collection").glob("*.jsonl") for line in shard.read_text().splitlines()]
    df = Counter(term for vector in vectors for term in vector)
    with Searcher.open(if_index) as full:
        commonest = max((term for query in QUERIES for term in full.quantised(query)), key=df.__getitem__)
        max_df = (df[commonest] - 0.5) / len(vectors)  # just below the commonest query term's share
        frequent = {term for term, count in df.items() if count > max_df * len(vectors)}
        with Searcher.open(if_index, query_max_df=max_df) as capped:
            for query in QUERIES:
                kept = {term: w for term, w in full.quantised(query).items() if term not in frequent}
                assert capped.quantised(query) == kept
                expected = full._lucene.search(full._lucene.weighted_query(kept), 5) if kept else []
                assert [tuple(h) for h in capped.search(query, k=5)] == expected  # the Java-built query drops the same terms
            assert commonest not in capped.quantised(" ".join(QUERIES))
    for bad in (0.0, 1.5):
        with pytest.raises(LsrError, match="query_max_df"):
            Searcher.open(if_index, query_max_df=bad)


def test_an_index_recipe_sets_the_query_pruning_its_searchers_default_to(tmp_path, tiny, if_index):
    """``query_min_ratio`` / ``query_max_df`` in a recipe travel in the manifest; an explicit option overrides them."""
    recipe = IndexRecipe(name="if-fast", encoder="splade-tiny", query_encoder="idf", query_min_ratio=0.5, query_max_df=0.9)
    manifest = build_index(recipe, tiny, tmp_path / "fast", threads=1, keep_vectors=True, progress=False, vectors_from=if_index)
    assert manifest["query"]["defaults"] == {"query_min_ratio": 0.5, "query_max_df": 0.9}
    with Searcher.open(tmp_path / "fast") as default, Searcher.open(if_index, query_min_ratio=0.5, query_max_df=0.9) as explicit, \
            Searcher.open(tmp_path / "fast", query_min_ratio=0.0, query_max_df=1.0) as unpruned, Searcher.open(if_index) as plain:
        for query in QUERIES:
            assert default.quantised(query) == explicit.quantised(query)
            assert [tuple(h) for h in default.search(query, k=5)] == [tuple(h) for h in explicit.search(query, k=5)]
            assert unpruned.quantised(query) == plain.quantised(query)
        assert sum(map(len, map(default.quantised, QUERIES))) < sum(map(len, map(unpruned.quantised, QUERIES)))
    again = build_index(IndexRecipe(name="if-again", encoder="splade-tiny", query_encoder="idf"), tiny, tmp_path / "again", threads=1,
                        progress=False, vectors_from=tmp_path / "fast")
    assert "defaults" not in again["query"]  # defaults belong to a recipe, not to the vectors it reused
    plain_recipe = IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf")
    explicit = IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf", query_min_ratio=0.0, query_max_df=1.0)
    assert explicit.fingerprint() == plain_recipe.fingerprint()
    assert recipe.fingerprint() != plain_recipe.fingerprint()
    with pytest.raises(LsrError, match="BM25 index"):
        IndexRecipe(name="x", query_min_ratio=0.5)
    with pytest.raises(LsrError, match="query_max_df"):
        IndexRecipe(name="x", encoder="splade-tiny", query_max_df=0.0)


def test_an_index_recipe_sets_the_two_phase_search_its_searchers_default_to(tmp_path, tiny, if_index):
    """``two_phase`` in a recipe travels in the manifest; ``exhaustive`` searches without it, an explicit setting overrides it."""
    recipe = IndexRecipe(name="if-2p", encoder="splade-tiny", query_encoder="idf", two_phase=[0.7, 1.5])
    assert recipe.two_phase == (0.7, 1.5) and recipe.fingerprint() != IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf").fingerprint()
    manifest = build_index(recipe, tiny, tmp_path / "2p", threads=1, progress=False, vectors_from=if_index)
    assert manifest["query"]["defaults"] == {"two_phase": [0.7, 1.5]}
    with Searcher.open(tmp_path / "2p") as default, Searcher.open(if_index, two_phase=TwoPhase(0.7, 1.5)) as explicit, \
            Searcher.open(tmp_path / "2p", exhaustive=True) as exhaustive, Searcher.open(if_index) as plain, \
            Searcher.open(tmp_path / "2p", two_phase=TwoPhase(1e-9, 1.0)) as overridden:
        assert default.two_phase == TwoPhase(0.7, 1.5) and exhaustive.two_phase is None and overridden.two_phase == TwoPhase(1e-9, 1.0)
        for query in QUERIES:
            assert default.search(query, k=2) == explicit.search(query, k=2)
            assert exhaustive.search(query, k=2) == plain.search(query, k=2) == overridden.search(query, k=2)
    for bad in ([0.0, 2.0], [0.4, 0.5], [0.4], "0.4 2"):
        with pytest.raises(LsrError, match="two_phase"):
            IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf", two_phase=bad)
    with pytest.raises(LsrError, match="BM25 index"):
        IndexRecipe(name="x", two_phase=[0.4, 2.0])


def test_two_phase_rescores_the_heavy_terms_candidates_with_the_full_query(if_index, tiny):
    """The heavy terms' top ceil(expansion x k) are the candidates; their full scores rank them; every score is exact.
    Terms that no document holds take no part (an unseen word, weighed heaviest, would otherwise find no candidates)."""
    with Searcher.open(if_index) as full, Searcher.open(if_index, two_phase=TwoPhase(0.7, 1.5, whole_share=1.0)) as two_phase:
        everything, with_light_terms = read_manifest(if_index)["num_docs"], 0
        for query in tiny.queries("test").values():
            weights = full.quantised(query)
            present = {term: w for term, w in weights.items() if full._lucene.search(full._lucene.weighted_query({term: 1.0}), 1)}
            heavy = {term: w for term, w in present.items() if w >= 0.7 * max(present.values())}
            with_light_terms += len(heavy) < len(weights)
            candidates = {h.docid for h in full._lucene.search(full._lucene.weighted_query(heavy), 3)}
            exact = dict(full.search(query, k=everything))
            expected = sorted(candidates & exact.keys(), key=lambda d: (-exact[d], d))[:2]
            hits = two_phase.search(query, k=2)
            assert [h.docid for h in hits] == expected
            assert all(h.score == pytest.approx(exact[h.docid], abs=1e-4) for h in hits)
            assert two_phase._lucene.two_phase(weights, 2, 0.7, 1.5, 1.0) == hits  # the Python-encoded path (model queries)
            unseen = {**weights, "term-of-no-document": 10.0 * max(weights.values())}
            assert two_phase._lucene.two_phase(unseen, 2, 0.7, 1.5, 1.0) == hits
        assert with_light_terms >= 3  # the second phase ran
    with Searcher.open(if_index) as full, Searcher.open(if_index, two_phase=TwoPhase(1e-9, 1.0)) as all_heavy:
        assert all_heavy.search(TINY_QUERIES["q1"], k=3) == full.search(TINY_QUERIES["q1"], k=3)  # no light terms: one plain search
    with pytest.raises(LsrError, match="two-phase"):
        Searcher.open(if_index, two_phase=TwoPhase(0.4, 0.5))


def test_two_phase_searches_the_whole_query_when_its_candidates_would_be_a_large_share_of_the_index(if_index, tiny):
    """With more than ``whole_share`` of the documents as candidates, a two-phase search is the exhaustive search, which
    also finds the documents that hold no heavy term; with fewer, it searches in two phases."""
    everything = read_manifest(if_index)["num_docs"]
    queries = list(tiny.queries("test").values())
    share = 5 / everything  # k=4: ceil(1.5 x 4) = 6 candidates, more than 5; k=3: 5, not more
    with Searcher.open(if_index) as full, Searcher.open(if_index, two_phase=TwoPhase(0.99, 1.5, share)) as two_phase, \
            Searcher.open(if_index, two_phase=TwoPhase(0.99, 1.5, whole_share=1.0)) as always:
        assert [two_phase.search(q, k=4) for q in queries] == [full.search(q, k=4) for q in queries]
        assert [always.search(q, k=4) for q in queries] != [full.search(q, k=4) for q in queries]  # two phases miss some
        assert [two_phase.search(q, k=3) for q in queries] == [always.search(q, k=3) for q in queries]
    assert TwoPhase(0.4, 3.0) == (0.4, 3.0, 0.05)
    for bad in (0, 1.5, "0.1", True):
        with pytest.raises(LsrError, match="whole_share"):
            TwoPhase(0.4, 3.0, bad).check()


def test_pruning_is_chosen_on_the_selection_split(if_index, tiny, tmp_path):
    """Among the document/query ratio pairs within `free` of no pruning (nDCG@10 as Searcher.open sees it), the fewest postings."""
    from lsr.bench.pruning import _scores, choose_pruning, pruned_index
    from lsr.eval.efficiency import sparse_stats

    recipe = IndexRecipe(name="inference-free", encoder="splade-tiny", query_encoder="idf")
    docs, queries = (0.5,), (0.3, 0.9)

    def measured(row):
        index = pruned_index(recipe, tiny, if_index, tmp_path, None, row["doc_min_ratio"], 1) if row["doc_min_ratio"] else if_index
        with Searcher.open(index, query_min_ratio=row["query_min_ratio"]) as searcher:
            ndcg = round(_scores(searcher, tiny.queries("test"), tiny.qrels("test"), 1)["nDCG@10"], 4)
            return ndcg, round(sparse_stats(searcher, list(tiny.queries("test").values()))["flops"] * read_manifest(index)["num_docs"])

    loose = choose_pruning(recipe, tiny, if_index, tmp_path, "test", doc_ratios=docs, query_ratios=queries, free=1.0, threads=1)
    rows = loose["rows"]
    assert [(r["doc_min_ratio"], r["query_min_ratio"]) for r in rows] == [(d, q) for d in (0.0, 0.5) for q in (0.0, 0.3, 0.9)]
    for row in rows:
        assert (row["nDCG@10 (test)"], row["postings_per_query"]) == measured(row)
    cheapest = min(r["postings_per_query"] for r in rows)
    assert loose["chosen"] == {"doc_min_ratio": 0.5, "query_min_ratio": 0.9} and rows[-1]["postings_per_query"] == cheapest
    assert cheapest < rows[0]["postings_per_query"]
    strict = choose_pruning(recipe, tiny, if_index, tmp_path, "test", doc_ratios=docs, query_ratios=queries, free=0.0, threads=1)
    best = rows[0]["nDCG@10 (test)"]
    allowed = [r for r in rows if r["nDCG@10 (test)"] >= best]
    assert strict["rows"] == rows and strict["chosen"] in [{k: r[k] for k in ("doc_min_ratio", "query_min_ratio")} for r in allowed]
    assert min(r["postings_per_query"] for r in allowed) == next(r["postings_per_query"] for r in rows
                                                                  if {k: r[k] for k in ("doc_min_ratio", "query_min_ratio")} == strict["chosen"])
    assert rows[-1]["nDCG@10 (test)"] < best and strict["chosen"] != loose["chosen"]  # pruning this hard costs relevance here


def test_fast_setting_is_the_best_within_bm25_latency_else_the_fastest(if_index, bm25_index, tiny):
    """choose_fast scores every candidate (relevance on the small index, latency beside BM25 on the large) and picks by pick_fast."""
    from lsr.bench.pruning import _scores, choose_fast, fast_candidates, pick_fast, searcher_options

    candidates = fast_candidates(0.1, max_dfs=(1.0, 0.5), two_phases=(None, (0.5, 2.0)))
    assert len(candidates) == 4 and searcher_options(candidates[1])["two_phase"] == TwoPhase(0.5, 2.0)
    choice = choose_fast(if_index, if_index, bm25_index, tiny, candidates, "test", "test", queries=5, repeats=1, threads=1)
    rows = choice["rows"]
    assert [row["settings"] for row in rows] == candidates and len({row["setting"] for row in rows}) == 4
    for row in rows:
        with Searcher.open(if_index, **searcher_options(row["settings"])) as searcher:
            assert row["nDCG@10 (test)"] == round(_scores(searcher, tiny.queries("test"), tiny.qrels("test"), 1, (("nDCG@10", 10),))["nDCG@10"], 4)
        assert row["ratio_to_bm25_k10"] > 0 and row["ratio_to_bm25_k1000"] > 0
    picked, meets = pick_fast(rows, "nDCG@10 (test)")
    assert (choice["chosen"], choice["meets_bm25_latency"]) == (picked["settings"], meets)
    json.dumps(choice)  # the bench writes it as JSON
    from lsr.bench import markdown

    note = markdown.report({"date": "d", "command": "lsr bench", "seconds": 1, "settings": {},
                            "machine": {"cpus": 2, "python": "3", "load_average_at_start": [0]},
                            "fast_choice": {**choice, "pruning": {"chosen": {"doc_min_ratio": 0.1, "query_min_ratio": 0.1}}, "doc_min_ratio": 0.1},
                            "scifact": {"num_docs": {}, "index_mib": {}, "terms_per_doc": {}}})
    assert f"**{choice['label']}**" in note and all(f"| {row['setting']} |" in note for row in rows)
    ratios = [(1.2, 0.9, 0.7), (0.9, 1.0, 0.6), (0.5, 0.8, 0.6), (0.3, 0.3, 0.5)]
    known = [{"n": n, "ratio_to_bm25_k10": k10, "ratio_to_bm25_k1000": k1000} for k10, k1000, n in ratios]
    assert pick_fast(known, "n") == (known[2], True)  # best nDCG within BM25's latency; the faster of a tie
    slow = [known[0], {"n": 0.65, "ratio_to_bm25_k10": 1.1, "ratio_to_bm25_k1000": 1.5}]
    assert pick_fast(slow, "n") == (known[0], False)  # none within: the fastest at its slower k


# --- the direct Lucene path against Anserini's own searchers --------------------------------------

def _anserini_hits(index_dir, searcher, query, k):
    if searcher.manifest["kind"] == "bm25":
        java = jclass("io.anserini.search.SimpleSearcher")(str(index_dir / LUCENE_DIR))
        java.set_bm25(0.9, 0.4)
        found = java.search(query, k) if query.strip() else []
    else:
        java = jclass("io.anserini.search.SimpleImpactSearcher")(str(index_dir / LUCENE_DIR))
        weights = searcher.quantised(query)
        jmap = jclass("java.util.HashMap")()
        for term, weight in weights.items():
            jmap.put(term, jclass("java.lang.Integer")(weight))
        found = java.search(jmap, k) if weights else []
    hits = [(h.docid, round(h.score, 4)) for h in found]
    java.close()
    return hits


@pytest.mark.parametrize("index", ["bm25_index", "if_index", "splade_index"])
def test_direct_lucene_path_returns_anserinis_hits(index, request):
    index_dir = request.getfixturevalue(index)
    with Searcher.open(index_dir) as searcher:
        for k in (1, 3, 1000):
            for query in QUERIES:
                ours = [(h.docid, round(h.score, 4)) for h in searcher.search(query, k)]
                assert ours == _anserini_hits(index_dir, searcher, query, k), (query, k)
        batch = searcher.batch_search(QUERIES, k=5, threads=2)
        assert batch == [searcher.search(q, 5) for q in QUERIES]


def test_impact_writer_gives_the_same_index_as_anserini(tmp_path, if_index):
    """Term frequency = weight written directly gives Anserini's postings: same hits and scores."""
    with ImpactIndexWriter(tmp_path / "lucene") as writer:
        for line in next((if_index / "collection").glob("*.jsonl")).read_text().splitlines():
            record = json.loads(line)
            writer.add(record["id"], list(record["vector"]), list(record["vector"].values()))
    assert writer.count == read_manifest(if_index)["num_docs"]
    direct = tmp_path / "index"
    (tmp_path / "lucene").rename(tmp_path / "lucene-built")
    direct.mkdir()
    (tmp_path / "lucene-built").rename(direct / LUCENE_DIR)
    for name in ("manifest.json", "query"):
        source = if_index / name
        target = direct / name
        if source.is_dir():
            import shutil

            shutil.copytree(source, target)
        else:
            target.write_text(source.read_text())
    with Searcher.open(if_index) as anserini_built, Searcher.open(direct) as written:
        for query in QUERIES:
            assert written.search(query, 20) == anserini_built.search(query, 20)


def test_two_phase_adds_the_light_terms_scores_in_every_segment(tmp_path):
    """An index of several segments: the second phase finds each candidate's light-term postings in its own segment."""
    from lsr.search.lucene import LuceneIndex, impact_similarity

    rng = np.random.default_rng(0)
    vocabulary = ["heavy", "light1", "light2", "light3"]
    docs = {f"d{i}": {t: int(w) for t, w in zip(vocabulary, rng.integers(0, 6, size=4)) if w} or {"light1": 1} for i in range(40)}
    for name, segments in (("split", 4), ("merged", 1)):
        with ImpactIndexWriter(tmp_path / name) as writer:
            for i, (docid, vector) in enumerate(docs.items()):
                writer.add(docid, list(vector), list(vector.values()))
                if i % 10 == 9 and segments > 1:
                    writer._writer.commit()  # one segment per ten documents
            if segments == 1:
                writer.force_merge(1)
    split, merged = LuceneIndex(tmp_path / "split", impact_similarity()), LuceneIndex(tmp_path / "merged", impact_similarity())
    assert len(list((tmp_path / "split").glob("*.si"))) > 1 and len(list((tmp_path / "merged").glob("*.si"))) == 1
    query = {"heavy": 10, "light1": 2, "light2": 1, "light3": 3}
    exact = {docid: sum(query[t] * w for t, w in vector.items()) for docid, vector in docs.items()}
    for k in (1, 5, 40):
        for index in (split, merged):
            hits = index.two_phase(query, k, 0.5, 40 / k, 1.0)  # every document with the heavy term is a candidate
            candidates = [d for d in docs if "heavy" in docs[d]]
            assert [h.docid for h in hits] == sorted(candidates, key=lambda d: (-exact[d], d))[:k]  # ties: by id, as Anserini
            assert all(h.score == pytest.approx(exact[h.docid], abs=1e-4) for h in hits)
        assert split.two_phase(query, k, 0.5, 2.0, 1.0) == merged.two_phase(query, k, 0.5, 2.0, 1.0)
    split.close()
    merged.close()


def test_ties_break_on_the_collection_id_as_anserini_does(tmp_path):
    """Documents added out of id order with equal scores: the top k are the smallest ids, like Anserini's sort."""
    ids = ["d9", "d10", "d2", "d1", "d30", "d3"]
    with ImpactIndexWriter(tmp_path / "lucene") as writer:
        for docid in ids:
            writer.add(docid, ["aspirin", "cancer"], [2, 5 if docid == "d30" else 1])
    from lsr.search.lucene import LuceneIndex, impact_similarity

    index = LuceneIndex(tmp_path / "lucene", impact_similarity())
    anserini = jclass("io.anserini.search.SimpleImpactSearcher")(str(tmp_path / "lucene"))
    query = {"aspirin": 3, "cancer": 1}
    jmap = jclass("java.util.HashMap")()
    for term, weight in query.items():
        jmap.put(term, jclass("java.lang.Integer")(weight))
    for k in (1, 2, 3, 6, 10):
        ours = index.search(index.weighted_query(query), k)
        assert [d for d, _ in ours] == (["d30", "d1", "d10", "d2", "d3", "d9"])[:k]
        assert [(d, round(s, 4)) for d, s in ours] == [(h.docid, round(h.score, 4)) for h in anserini.search(jmap, k)]
    anserini.close()
    index.close()


def test_the_java_helper_jar_is_built_from_the_committed_sources():
    """`make java` records the sources' sha256 in the jar; a source edited without rebuilding fails here."""
    import hashlib
    import zipfile

    from lsr.jvm.runtime import helper_jar

    sources = sorted(helper_jar().parent.glob("*.java"))
    with zipfile.ZipFile(helper_jar()) as jar:
        recorded = dict(line.split()[::-1] for line in jar.read("lsr/lucene/sources.sha256").decode().splitlines())
    assert recorded == {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sources}


def test_synthetic_indexes_are_built_merged_pruned_and_cached(tmp_path, tiny, if_index):
    """The bench's synthetic indexes: one segment each, searchable, pruned like real documents, reused when up to date."""
    from lsr.bench.scale import synthetic_index

    built = {(kind, ratio): synthetic_index(kind, tiny, if_index, 300, tmp_path, threads=1, doc_min_ratio=ratio)
             for kind, ratio in (("bm25", 0.0), ("impact", 0.0), ("impact", 0.5))}
    for (kind, ratio), (index, manifest) in built.items():
        assert manifest["num_docs"] == 300 and manifest["synthetic"]["doc_min_ratio"] == ratio and manifest["peak_rss_bytes"] > 0
        assert len(list((index / LUCENE_DIR).glob("*.si"))) == 1
        with Searcher.open(index) as searcher:
            assert searcher.search("aspirin cancer risk", k=5)
    full, pruned = (Searcher.open(built[("impact", r)][0]) for r in (0.0, 0.5))
    with full, pruned:
        from lsr.eval.efficiency import sparse_stats

        assert sparse_stats(pruned, ["aspirin cancer risk"])["avg_doc_terms"] < sparse_stats(full, ["aspirin cancer risk"])["avg_doc_terms"]
    again = synthetic_index("impact", tiny, if_index, 300, tmp_path, threads=1, doc_min_ratio=0.5)
    assert again == built[("impact", 0.5)]  # cached: same folder, same manifest
    named, _ = synthetic_index("impact", tiny, if_index, 300, tmp_path, threads=1, name="inference-free-trained")
    assert named == tmp_path / "synthetic-300" / "inference-free-trained" and named != built[("impact", 0.0)][0]
    with pytest.raises(LsrError, match="impact indexes only"):
        synthetic_index("bm25", tiny, if_index, 300, tmp_path, doc_min_ratio=0.5)


def test_hits_cross_jni_as_one_string_unless_an_id_holds_the_separator():
    from lsr.jvm.classes import declared
    from lsr.search.lucene import SEP, LuceneIndex

    java_hits = declared().Hits

    assert LuceneIndex._hits(java_hits(["d1", "d2", ""], [3.0, 2.0, 1.0])) == [("d1", 3.0), ("d2", 2.0), ("", 1.0)]
    assert LuceneIndex._hits(java_hits([f"a{SEP}b", "c"], [2.0, 1.0])) == [(f"a{SEP}b", 2.0), ("c", 1.0)]
    assert LuceneIndex._hits(java_hits([], [])) == []
    hit = LuceneIndex._hits(java_hits(["d1"], [0.5]))[0]
    assert isinstance(hit, Hit) and (hit.docid, hit.score) == ("d1", 0.5)


def test_latency_times_each_system_on_all_queries_in_turn():
    """Each pass runs one system over every query before the next (rotating order); ratios are to BM25."""
    from lsr.bench.latency import WARM_UP, latency

    calls = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def search(self, query, k):
            calls.append(self.name)
            return []

    queries = [f"q{i}" for i in range(30)]
    result = latency({"BM25": Fake("BM25"), "other": Fake("other")}, queries, k=10, repeats=2)
    assert set(result) == {"BM25", "other"} and result["BM25"]["p50_ratio_to_bm25"] == 1.0
    assert all(result[n]["p50_ms"] <= result[n]["p95_ms"] for n in result) and result["other"]["p50_ratio_to_bm25"] > 0
    timed = calls[2 * min(WARM_UP, len(queries)):]  # after the shared warm-up
    block = WARM_UP // 10 + len(queries)  # a system's own warm-up, then every query
    assert timed == ["BM25"] * block + ["other"] * block + ["other"] * block + ["BM25"] * block


def test_the_bench_skips_the_trained_system_where_its_model_is_missing(tmp_path, monkeypatch):
    """`make bench` on a machine without `make train`'s model benches the rest and says what it skipped and why."""
    import shutil

    from lsr.bench import markdown
    from lsr.bench.run import OPTIONAL_RECIPES, RECIPES, TRAINED, bench_recipes
    from lsr.index.recipe import IndexRecipe

    repo = Path(__file__).resolve().parents[1]
    for file in [*RECIPES.values(), *OPTIONAL_RECIPES.values()]:
        shutil.copy(repo / "indexing" / file, tmp_path / file)
    monkeypatch.chdir(tmp_path)  # the trained recipe names its model relative to the working directory
    encoder = IndexRecipe.load(tmp_path / OPTIONAL_RECIPES[TRAINED]).encoder
    recipes, skipped = bench_recipes(tmp_path)
    assert set(recipes) == set(RECIPES) and list(skipped) == [TRAINED] and encoder in skipped[TRAINED] and "make train" in skipped[TRAINED]
    note = markdown.report({"date": "d", "command": "lsr bench", "seconds": 1, "settings": {}, "skipped": skipped,
                            "machine": {"cpus": 2, "python": "3", "load_average_at_start": [0]},
                            "scifact": {"num_docs": {"BM25": 12}, "index_mib": {"BM25": 0.1}, "terms_per_doc": {"BM25": 5.0}}})
    assert f"Not benched here: **{TRAINED}**" in note
    assert "## SciFact (12 documents, test queries)" in note  # the corpus benched, whatever its size
    (tmp_path / encoder).mkdir(parents=True)
    recipes, skipped = bench_recipes(tmp_path)
    assert TRAINED in recipes and not skipped


def test_the_bench_writes_under_the_output_folder_unless_told_otherwise(tmp_path, monkeypatch, capsys):
    """`lsr bench` puts bench.json/.md under <out-dir>/bench/results; --results (make bench: bench/results) elsewhere.
    A run replaces the result of the same name; a tag keeps a partial run apart."""
    import lsr.bench.run as bench_run
    from lsr.cli import main

    calls = []

    def fake_run_bench(settings, data_dir, out_dir, results_dir, progress=True):
        calls.append((out_dir, results_dir))
        result = {"date": "d", "command": "lsr bench", "seconds": 1, "settings": {"tag": settings.tag},
                  "machine": {"cpus": 2, "python": "3", "load_average_at_start": [0]},
                  "scifact": {"num_docs": {}, "index_mib": {}, "terms_per_doc": {}}}
        return bench_run._write(result, results_dir)

    monkeypatch.setattr(bench_run, "run_bench", fake_run_bench)
    out = tmp_path / "out"
    assert main(["bench", "--out-dir", str(out), "--quiet"]) == 0
    assert calls[-1] == (out, out / "bench" / "results")
    assert sorted(p.name for p in (out / "bench" / "results").iterdir()) == ["bench.json", "bench.md"]
    assert main(["bench", "--out-dir", str(out), "--quiet"]) == 0  # the same name again: replaced, not added
    assert sorted(p.name for p in (out / "bench" / "results").iterdir()) == ["bench.json", "bench.md"]
    committed = tmp_path / "committed"
    assert main(["bench", "--out-dir", str(out), "--results", str(committed), "--tag", "scifact", "--quiet"]) == 0
    assert calls[-1] == (out, committed) and sorted(p.name for p in committed.iterdir()) == ["bench-scifact.json", "bench-scifact.md"]
    assert f"written: {committed / 'bench-scifact.json'}" in capsys.readouterr().out
    assert bench_run.default_results_dir(Path("out")) == Path("out/bench/results")


def test_work_runs_in_a_fresh_process_and_its_failure_names_the_function():
    import math

    from lsr.bench.fresh_process import in_fresh_process

    seconds, _, value = in_fresh_process(math.hypot, 3.0, 4.0)
    assert value == 5.0 and seconds > 0
    with pytest.raises(LsrError, match=r"(?s)math\.sqrt failed in its own process \(exit 1\): .*ValueError: math domain error"):
        in_fresh_process(math.sqrt, -1.0)
