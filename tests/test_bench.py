"""The speed work's logic: synthetic corpus statistics, pruning, the direct Lucene search path and
the direct impact writer (same hits as Anserini's own searchers and indexer). No timings asserted."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from lsr import Searcher
from lsr.bench.synthetic import TextStats, VectorStats, synthetic_texts, synthetic_vectors, text_records, write_shards
from lsr.errors import LsrError
from lsr.index.build import build_index
from lsr.index.impact_writer import SEP, ImpactIndexWriter
from lsr.index.manifest import LUCENE_DIR, read_manifest
from lsr.index.pruning import prune_rows, prune_weights
from lsr.index.recipe import IndexRecipe
from lsr.java import jclass
from tests.conftest import TINY_QUERIES

QUERIES = list(TINY_QUERIES.values()) + ["aspirin", "cancer risk in children and adults", "zzzz unknown"]


# --- synthetic corpus -------------------------------------------------------------------------

def test_synthetic_texts_follow_length_and_unigram_distributions():
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(50)]
    probs = 1 / np.arange(1, 51)
    real = [" ".join(rng.choice(words, size=n, p=probs / probs.sum())) for n in rng.integers(5, 40, size=400)]
    stats = TextStats.from_texts(real)
    fake = list(synthetic_texts(stats, 3000, seed=0))
    assert len(fake) == 3000
    lengths = np.array([len(t.split()) for t in fake])
    assert abs(lengths.mean() - stats.lengths.mean()) < 0.05 * stats.lengths.mean()
    assert lengths.min() >= stats.lengths.min() and lengths.max() <= stats.lengths.max()
    counts = {w: 0 for w in stats.words}
    for text in fake:
        for w in text.split():
            counts[w] += 1
    share = np.array([counts[w] for w in stats.words]) / lengths.sum()
    assert np.abs(share - stats.probabilities).max() < 0.01  # the unigram distribution is reproduced
    assert list(synthetic_texts(stats, 3000, seed=0)) == fake  # seeded


def _collection(tmp_path, vectors):
    folder = tmp_path / "collection"
    write_shards((json.dumps({"id": f"d{i}", "vector": v}) for i, v in enumerate(vectors)), folder, shard_docs=7)
    return folder


def test_synthetic_vectors_follow_document_frequency_sizes_and_weights(tmp_path):
    rng = np.random.default_rng(2)
    vocab = [f"t{i}" for i in range(300)]
    df = 1 / np.arange(1, 301) ** 0.8
    real = []
    for size in rng.integers(10, 60, size=300):
        terms = rng.choice(vocab, size=size, replace=False, p=df / df.sum())
        real.append({t: int(vocab.index(t) % 7 + 1 + 10 * (t == "t0")) for t in terms})
    stats = VectorStats.from_collection(_collection(tmp_path, real))
    assert len(list(tmp_path.joinpath("collection").glob("*.jsonl"))) == 43  # 300 docs in shards of 7
    fake = [dict((tok.split(SEP)[0], int(tok.split(SEP)[1])) for tok in text.split(" ")) for text in synthetic_vectors(stats, 3000, seed=0)]
    sizes = np.array([len(v) for v in fake])
    assert abs(sizes.mean() - stats.sizes.mean()) < 0.05 * stats.sizes.mean()  # terms per document
    real_df = {t: sum(t in v for v in real) / len(real) for t in vocab}
    fake_df = {t: sum(t in v for v in fake) / len(fake) for t in vocab}
    assert abs(fake_df["t0"] - real_df["t0"]) < 0.1 and fake_df["t0"] > fake_df["t200"]
    real_weights = {(t, w) for v in real for t, w in v.items()}
    assert all((t, w) in real_weights for v in fake[:200] for t, w in v.items())  # a term's weights are its own


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
    kept = {json.loads(line)["id"]: json.loads(line)["vector"] for line in next((if_index / "collection").glob("*.jsonl")).read_text().splitlines()}
    pruned = {json.loads(line)["id"]: json.loads(line)["vector"] for line in next((tmp_path / "pruned" / "collection").glob("*.jsonl")).read_text().splitlines()}
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


def test_query_pruning_is_chosen_on_the_selection_split(if_index, tiny):
    """The chosen min_ratio is the largest whose nDCG@10 is within `free` of no pruning, measured as Searcher.open sees it."""
    from lsr.bench.pruning import _scores, choose_query_ratio

    ratios = (0.3, 0.6, 0.9)
    loose = choose_query_ratio(if_index, tiny, "test", ratios=ratios, free=1.0, threads=1)
    assert loose["chosen"] == 0.9 and [r["min_ratio"] for r in loose["rows"]] == [0.0, *ratios]
    for row in loose["rows"]:
        with Searcher.open(if_index, query_min_ratio=row["min_ratio"]) as searcher:
            assert row["nDCG@10 (test)"] == round(_scores(searcher, tiny.queries("test"), tiny.qrels("test"), 1)["nDCG@10"], 4)
    strict = choose_query_ratio(if_index, tiny, "test", ratios=ratios, free=0.0, threads=1)
    best = strict["rows"][0]["nDCG@10 (test)"]
    assert strict["chosen"] == max(r["min_ratio"] for r in strict["rows"] if r["nDCG@10 (test)"] >= best)
    assert loose["rows"][-1]["nDCG@10 (test)"] < best  # 0.9 x max keeps too little on this corpus: the strict choice is not 0.9
    assert strict["chosen"] < 0.9


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

    from lsr.java import helper_jar

    sources = sorted(helper_jar().parent.glob("*.java"))
    with zipfile.ZipFile(helper_jar()) as jar:
        recorded = dict(line.split()[::-1] for line in jar.read("lsr/lucene/sources.sha256").decode().splitlines())
    assert recorded == {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sources}
