"""The hybrid searcher on the tiny corpus: fusion and rerank modes, cross-encoder stage, tuning, CLI."""

import json
import textwrap

import numpy as np
import pytest

from lsr import HybridSearcher, Searcher
from lsr.cli import main
from lsr.data import load_dataset
from lsr.errors import LsrError
from lsr.fusion import FusionConfig, fuse
from lsr.index.hybrid import build_hybrid
from lsr.index.manifest import read_manifest
from lsr.index.recipe import HybridRecipe, load_recipe
from lsr.search.dense import DenseSearcher
from tests.conftest import TINY_DOCS, TINY_QRELS, TINY_QUERIES, build_dense, write_beir

QUERIES = list(TINY_QUERIES.values())


@pytest.fixture(scope="module")
def components(bm25_index, dense_index):
    with Searcher.open(bm25_index) as sparse:
        yield sparse, DenseSearcher(dense_index)


def recipe_files(folder, **fusion):
    """indexing/{bm25,minilm,hybrid}.yaml under ``folder``; returns the hybrid recipe's path."""
    (folder / "indexing").mkdir(parents=True, exist_ok=True)
    (folder / "indexing" / "bm25.yaml").write_text("name: bm25\n")
    (folder / "indexing" / "minilm.yaml").write_text("kind: dense\nname: minilm\n")
    settings = "".join(f"{k}: {v}\n" for k, v in fusion.items())
    path = folder / "indexing" / "hybrid.yaml"
    path.write_text(f"# my hybrid\nkind: hybrid\nname: hybrid\nsparse: bm25.yaml  # BM25\ndense: minilm.yaml\n{settings}")
    return path


def test_fusion_mode_fuses_the_two_top_lists(components):
    sparse, dense = components
    for method in ("rrf", "minmax", "zscore"):
        hybrid = HybridSearcher(sparse, dense, FusionConfig(method=method, dense_weight=0.3, depth=5))
        for query in QUERIES:
            expected = fuse([sparse.search(query, 5), dense.search(query, 5)], [0.7, 0.3], method, k=4)
            assert [h.docid for h in hybrid.search(query, k=4)] == [h.docid for h in expected]
            np.testing.assert_allclose([h.score for h in hybrid.search(query, k=4)], [h.score for h in expected], atol=1e-6)


def test_rerank_mode_scores_only_the_sparse_candidates(components):
    sparse, dense = components
    hybrid = HybridSearcher(sparse, DenseSearcher(dense.index_dir), FusionConfig(mode="rerank", method="minmax", dense_weight=1.0, depth=3))
    for query in QUERIES:
        candidates = [h.docid for h in sparse.search(query, 3)]
        hits = hybrid.search(query, k=10)
        full = {h.docid: h.score for h in dense.search(query, k=20)}
        assert sorted(h.docid for h in hits) == sorted(candidates)  # nothing from outside the sparse top 3
        assert [h.docid for h in hits] == sorted(candidates, key=lambda d: -full[d])  # dense weight 1: dense order
    assert "index" not in hybrid.dense.__dict__  # no faiss index was read: no dense search happened


def test_queries_with_hits_on_one_side_only(components):
    sparse, dense = components
    query = "xylophone penguin"
    assert sparse.search(query, 5) == [] and len(dense.search(query, 5)) == 5
    fused = HybridSearcher(sparse, dense, FusionConfig(depth=5)).search(query, k=5)
    assert [h.docid for h in fused] == [h.docid for h in dense.search(query, 5)]
    assert HybridSearcher(sparse, dense, FusionConfig(mode="rerank", depth=5)).search(query, k=5) == []
    for mode in ("fusion", "rerank"):
        hybrid = HybridSearcher(sparse, dense, FusionConfig(mode=mode))
        assert hybrid.search("", k=5) == [] and hybrid.batch_search(["", "aspirin"], k=2)[0] == []


def test_batch_search_equals_search(components):
    hybrid = HybridSearcher(*components, FusionConfig(method="rrf", depth=8))
    for query, hits in zip(QUERIES, hybrid.batch_search(QUERIES, k=6, threads=2)):
        single = hybrid.search(query, k=6)
        assert [h.docid for h in hits] == [h.docid for h in single]
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in single], atol=1e-6)


class ByLength:
    """A stand-in cross-encoder: longer documents score higher."""

    def __init__(self):
        self.pairs = []

    def predict(self, pairs, **kwargs):
        self.pairs.extend(pairs)
        return [float(len(text)) for _, text in pairs]


def test_cross_encoder_rescores_the_fused_top(components, tiny):
    scorer = ByLength()
    config = FusionConfig(cross_encoder="stand-in", cross_encoder_depth=3, depth=10)
    hybrid = HybridSearcher(*components, config, cross_encoder=scorer)
    texts = {d.id: d.contents for d in tiny.corpus()}
    fused = HybridSearcher(*components, FusionConfig(depth=10)).search(QUERIES[0], k=3)
    hits = hybrid.search(QUERIES[0], k=10)
    assert len(hits) == 3 and sorted(h.docid for h in hits) == sorted(h.docid for h in fused)
    assert [h.score for h in hits] == sorted((float(len(texts[h.docid])) for h in fused), reverse=True)
    assert scorer.pairs[0] == (QUERIES[0], texts[fused[0].docid])  # document text comes from the indexed corpus


def test_a_real_cross_encoder_loads_and_reranks(components):
    """sentence-transformers' CrossEncoder (MiniLM with an untrained head: no reranker weights offline)."""
    import torch
    from sentence_transformers import CrossEncoder

    from lsr.encoders.names import resolve_model

    torch.manual_seed(0)
    model = CrossEncoder(resolve_model("all-MiniLM-L6-v2"), num_labels=1, device="cpu")
    hybrid = HybridSearcher(*components, FusionConfig(cross_encoder="minilm-head", cross_encoder_depth=4, depth=10), cross_encoder=model)
    hits = hybrid.search(QUERIES[1], k=4)
    expected = model.predict([(QUERIES[1], hybrid.texts[h.docid]) for h in hits])
    assert [h.score for h in hits] == pytest.approx(sorted(expected.tolist(), reverse=True), abs=1e-5)


def test_unloadable_cross_encoder_is_a_clear_error(components, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    hybrid = HybridSearcher(*components, FusionConfig(cross_encoder=str(tmp_path)))
    with pytest.raises(LsrError, match="cannot load cross-encoder"):
        hybrid.search("aspirin", k=3)


def test_components_with_different_documents_are_refused(tmp_path, tmp_path_factory, bm25_index, dense_index):
    other = load_dataset(str(write_beir(tmp_path / "other", docs=TINY_DOCS + [("d13", "Extra", "One more document.")])))
    other_dense = build_dense(tmp_path_factory, other, name="other")
    recipe = load_recipe(recipe_files(tmp_path))
    with pytest.raises(LsrError, match="different documents"):
        build_hybrid(recipe, bm25_index, other_dense, tmp_path / "hybrid")
    with pytest.raises(LsrError, match="different documents"):
        HybridSearcher(Searcher.open(bm25_index), DenseSearcher(other_dense))
    with pytest.raises(LsrError, match="must be a dense index"):
        build_hybrid(recipe, bm25_index, bm25_index, tmp_path / "hybrid")
    assert not (tmp_path / "hybrid").exists()


def test_hybrid_recipe_and_index_directory(tmp_path, bm25_index, dense_index):
    path = recipe_files(tmp_path, mode="rerank", method="zscore", dense_weight=0.25, depth=7)
    recipe = load_recipe(path)
    assert isinstance(recipe, HybridRecipe) and recipe.sparse.kind == "bm25" and recipe.dense.kind == "dense"
    assert recipe.fusion == FusionConfig(mode="rerank", method="zscore", dense_weight=0.25, depth=7)
    manifest = build_hybrid(recipe, bm25_index, dense_index, tmp_path / "out" / "hybrid")
    assert manifest["kind"] == "hybrid" and manifest["num_docs"] == 11
    with Searcher.open(tmp_path / "out" / "hybrid") as searcher:
        assert isinstance(searcher, HybridSearcher) and searcher.config == recipe.fusion
        assert searcher.search("smoking and lung cancer", k=1)[0].docid == "d3"


@pytest.mark.parametrize("text, message", [
    ("kind: hybrid\nsparse: bm25.yaml\n", "needs 'dense'"),
    ("kind: hybrid\nsparse: minilm.yaml\ndense: minilm.yaml\n", "'sparse' must name a sparse"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: bm25.yaml\n", "'dense' must name a dense recipe"),
    ("kind: hybrid\nsparse: bad.yaml\ndense: minilm.yaml\n", "'sparse' must name a sparse \\(BM25 or impact\\) recipe, bad.yaml is hybrid"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: bad.yaml\n", "'dense' must name a dense recipe, bad.yaml is hybrid"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: minilm.yaml\nmethod: borda\n", "unknown fusion method 'borda'"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: minilm.yaml\ndense_weight: 2\n", "dense_weight must be a number in"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: minilm.yaml\nweight: 0.5\n", "unknown setting\\(s\\) weight"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: minilm.yaml\ndepth: 2.5\n", "bad.yaml: fusion: depth must be an integer >= 1, got 2.5"),
    ("kind: hybrid\nsparse: bm25.yaml\ndense: minilm.yaml\nrrf_k: high\n", "bad.yaml: fusion: rrf_k must be a finite number > 0, got 'high'"),
    ("kind: hybrid\nname: ../x\nsparse: bm25.yaml\ndense: minilm.yaml\n", "bad.yaml: recipe name '../x': a name must be a plain file name"),
])
def test_bad_hybrid_recipes(tmp_path, text, message):
    recipe_files(tmp_path)
    path = tmp_path / "indexing" / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LsrError, match=message):
        load_recipe(path)


@pytest.fixture(scope="module")
def tiny_with_train(tmp_path_factory):
    """The tiny corpus with a train split (two queries) and a test split whose qrels must never be read."""
    root = tmp_path_factory.mktemp("data") / "tinytrain"
    write_beir(root, split="test")
    write_beir(root, qrels={q: TINY_QRELS[q] for q in ("q1", "q4")}, split="train")
    return root


def test_tune_fusion_picks_on_train_and_writes_the_recipe(tmp_path, tiny_with_train, monkeypatch, capsys):
    from lsr.data import Dataset

    read = Dataset.qrels

    def guarded(self, split):
        assert split != "test", "tune-fusion read the test qrels"
        return read(self, split)

    monkeypatch.setattr(Dataset, "qrels", guarded)
    path = recipe_files(tmp_path, method="minmax", dense_weight=0.5)
    args = ["tune-fusion", str(path), "--dataset", str(tiny_with_train), "--out-dir", str(tmp_path / "out"), "--quiet",
            "--modes", "fusion,rerank", "--methods", "rrf,minmax", "--weights", "0,0.5,1", "--depths", "3,10", "--rrf-ks", "1,60"]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| fusion") or line.startswith("| rerank")]
    assert len(rows) == 2 * 3 * (2 * 2 + 1 + 1)  # depths x weights x (modes x rrf_ks + fusion minmax + rerank minmax)
    best = [cell.strip() for cell in rows[0].strip("|").split("|")]
    tuned = load_recipe(path).fusion
    assert [tuned.mode, tuned.method, str(tuned.depth), f"{tuned.dense_weight:g}"] == [best[0], best[1], best[3], f"{float(best[4]):g}"]
    assert best[5] == ("" if tuned.method != "rrf" else str(float(tuned.rrf_k)))
    text = path.read_text()
    assert text.startswith("# my hybrid\n") and "sparse: bm25.yaml  # BM25" in text and "# tuned by lsr tune-fusion on tinytrain train" in text
    assert main(args[:-2] + ["--rrf-ks", "60", "--dry-run"]) == 0
    assert text.count("# tuned by") == 1


def test_tune_fusion_refuses_the_test_split(tmp_path, tiny_with_train, capsys):
    path = recipe_files(tmp_path)
    assert main(["tune-fusion", str(path), "--dataset", str(tiny_with_train), "--split", "test", "--out-dir", str(tmp_path / "out")]) == 2
    assert "never tunes on the 'test' split" in capsys.readouterr().err
    assert main(["tune-fusion", "indexing/minilm.yaml", "--dataset", str(tiny_with_train)]) == 2
    assert "needs a hybrid recipe" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, expected", [
    ("--rrf-ks", "-1", "fusion grid: fusion: rrf_k must be a finite number > 0, got -1.0"),
    ("--rrf-ks", "nan", "fusion grid: fusion: rrf_k must be a finite number > 0, got nan"),
    ("--rrf-ks", "inf", "fusion grid: fusion: rrf_k must be a finite number > 0, got inf"),
    ("--weights", "0.5,1.5", "fusion grid: dense_weight must be a number in [0, 1] (the sparse side weighs 1 - dense_weight), got 1.5"),
    ("--depths", "10,0", "fusion grid: fusion: depth must be an integer >= 1, got 0"),
])
def test_tune_fusion_refuses_a_grid_value_before_any_work_even_one_no_setting_uses(tmp_path, tiny_with_train, capsys, option, value, expected):
    path = recipe_files(tmp_path)  # minmax: its grid uses no RRF constant
    argv = ["tune-fusion", str(path), "--dataset", str(tiny_with_train), "--out-dir", str(tmp_path / "out"), "--dry-run", option, value]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"lsr: error: {expected}\n" and not (tmp_path / "out").exists()


def test_cli_index_search_and_evaluate_a_hybrid(tmp_path, tiny, capsys):
    path = recipe_files(tmp_path, method="rrf", depth=10)
    out = tmp_path / "out"
    assert main(["index", str(path), "--dataset", str(tiny.root), "--out-dir", str(out), "--quiet"]) == 0
    assert "hybrid, 11 documents" in capsys.readouterr().out
    assert read_manifest(out / "indexes" / "tiny" / "minilm")["kind"] == "dense"
    assert main(["search", str(out / "indexes" / "tiny" / "hybrid"), "smoking", "lung", "cancer", "-k", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[2] == "d3"
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "tiny.yaml").write_text(textwrap.dedent(f"""\
        dataset: {tiny.root}
        systems: [../indexing/bm25.yaml, ../indexing/minilm.yaml, ../indexing/hybrid.yaml]
        """))
    assert main(["evaluate", str(tmp_path / "eval" / "tiny.yaml"), "--out-dir", str(out), "--quiet"]) == 0
    rows = {row["system"]: row for row in json.loads((out / "results" / "tiny-test.json").read_text())}
    assert set(rows) == {"bm25", "minilm", "hybrid"}
    assert rows["hybrid"]["fusion"] == "fusion rrf w=0.5 d=10 rrf_k=60" and rows["bm25"]["fusion"] is None
    assert rows["hybrid"]["MRR@10"] > 0.5 and rows["hybrid"]["p50_ms_k10"] > 0


@pytest.fixture(scope="module")
def three(bm25_index, if_index, dense_index):
    with Searcher.open(bm25_index) as bm25, Searcher.open(if_index) as learned:
        yield bm25, learned, DenseSearcher(dense_index)


@pytest.mark.parametrize("method", ["minmax", "zscore", "rrf"])
def test_three_list_fusion_mode_fuses_the_three_top_lists(three, method):
    bm25, learned, dense = three
    weights = (0.5, 0.2, 0.3)
    hybrid = HybridSearcher([bm25, learned], dense, FusionConfig(method=method, list_weights=weights, depth=5))
    assert hybrid.sparse is bm25 and hybrid.sparse_searchers == [bm25, learned]
    for query in QUERIES:
        expected = fuse([bm25.search(query, 5), learned.search(query, 5), dense.search(query, 5)], weights, method, k=4)
        hits = hybrid.search(query, k=4)
        assert [h.docid for h in hits] == [h.docid for h in expected]
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=1e-6)
    for batched, single in zip(hybrid.batch_search(QUERIES, k=4), [hybrid.search(q, k=4) for q in QUERIES]):
        assert [h.docid for h in batched] == [h.docid for h in single]  # scores: batched encoding differs in the last bits
        np.testing.assert_allclose([h.score for h in batched], [h.score for h in single], atol=1e-5)


def test_three_list_rerank_scores_the_union_of_the_sparse_candidates(three):
    bm25, learned, dense = three
    hybrid = HybridSearcher([bm25, learned], DenseSearcher(dense.index_dir), FusionConfig(mode="rerank", list_weights=(0.3, 0.3, 0.4), depth=2))
    for query in QUERIES:
        first, second = bm25.search(query, 2), learned.search(query, 2)
        union = list(dict.fromkeys(h.docid for h in first + second))
        vector = hybrid.dense.encode([query])[0]
        expected = fuse([first, second, hybrid.dense.score(vector, union)], (0.3, 0.3, 0.4), "minmax", k=10)
        hits = hybrid.search(query, k=10)
        assert sorted(h.docid for h in hits) == sorted(union)  # nothing outside the two sparse top 2
        assert [h.docid for h in hits] == [h.docid for h in expected]
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=1e-6)
    assert "index" not in hybrid.dense.__dict__
    # lists computed deeper and cut by combine (as tune-fusion does) fuse as a search at that depth would
    deep = HybridSearcher([bm25, learned], DenseSearcher(dense.index_dir), FusionConfig(mode="rerank", list_weights=(0.3, 0.3, 0.4), depth=8))
    for query in QUERIES:
        sparse, dense_lists = deep.candidates([query], 8)
        cut, searched = hybrid.combine(query, sparse[0], dense_lists[0], k=10), hybrid.search(query, k=10)
        assert [h.docid for h in cut] == [h.docid for h in searched]
        np.testing.assert_allclose([h.score for h in cut], [h.score for h in searched], atol=1e-6)


def test_a_sparse_list_without_its_weight_is_refused(three):
    bm25, learned, dense = three
    with pytest.raises(LsrError, match="needs 3 fusion weights"):
        HybridSearcher([bm25, learned], dense, FusionConfig(dense_weight=0.5))


def test_three_list_recipe_index_and_tuning(tmp_path, tiny_with_train, capsys):
    path = recipe_files(tmp_path, method="minmax")
    (tmp_path / "indexing" / "if.yaml").write_text("name: if\nencoder: splade-tiny\nquery_encoder: idf\n")
    text = path.read_text().replace("sparse: bm25.yaml  # BM25", "sparse: [bm25.yaml, if.yaml]") + "list_weights: [0.4, 0.2, 0.4]\n"
    path.write_text(text)
    recipe = load_recipe(path)
    assert [r.name for r in recipe.sparse_recipes] == ["bm25", "if"] and recipe.fusion.weights == (0.4, 0.2, 0.4)
    out = tmp_path / "out"
    assert main(["index", str(path), "--dataset", str(tiny_with_train), "--out-dir", str(out), "--quiet"]) == 0
    index_dir = out / "indexes" / "tinytrain" / "hybrid"
    manifest = read_manifest(index_dir)
    assert manifest["more_sparse"] == ["../if"] and manifest["fusion"]["list_weights"] == [0.4, 0.2, 0.4]
    with HybridSearcher.from_manifest(index_dir) as hybrid:
        assert [s.manifest["recipe"]["name"] for s in hybrid.sparse_searchers] == ["bm25", "if"]
        assert len(hybrid.search("aspirin colorectal cancer", k=3)) == 3
    args = ["tune-fusion", str(path), "--dataset", str(tiny_with_train), "--out-dir", str(out), "--quiet",
            "--modes", "rerank", "--weights", "0,0.5,1", "--depths", "10"]
    assert main(args) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| rerank")]
    assert len(rows) == 6  # the weightings of 3 lists from {0, .5, 1} that sum to 1: 3 x (1) + 3 x (.5, .5)
    tuned = load_recipe(path).fusion
    assert len(tuned.list_weights) == 3 and sum(tuned.list_weights) == pytest.approx(1) and tuned.dense_weight == tuned.list_weights[-1]
    path.write_text(text.replace("list_weights: [0.4, 0.2, 0.4]\n", ""))
    with pytest.raises(LsrError, match="need 3 weights; give list_weights"):
        load_recipe(path)


def test_tuning_uses_only_the_queries_held_out_from_dense_training(tmp_path, tiny_with_train):
    from lsr.eval.tune import tuning_queries

    dataset = load_dataset(str(tiny_with_train))
    model = tmp_path / "model"
    model.mkdir()
    (tmp_path / "indexing").mkdir()
    (tmp_path / "indexing" / "bm25.yaml").write_text("name: bm25\n")
    (tmp_path / "indexing" / "tuned.yaml").write_text(f"kind: dense\nname: tuned\nquery_encoder: {model}\n")
    path = tmp_path / "indexing" / "hybrid.yaml"
    path.write_text("kind: hybrid\nname: h\nsparse: bm25.yaml\ndense: tuned.yaml\n")
    queries, note = tuning_queries(load_recipe(path), dataset, "train")
    assert list(queries) == list(dataset.queries("train")) and note == "tinytrain train"  # no training record: all queries
    info = {"dataset": "tinytrain", "corpus_sha256": dataset.corpus_sha256, "split": "train", "validation_queries": ["q4", "q5"]}
    (model / "lsr_training.json").write_text(json.dumps(info))
    queries, note = tuning_queries(load_recipe(path), dataset, "train")
    assert list(queries) == ["q4"] and f"held out from training {model}" in note  # q5 is not a train query
    (model / "lsr_training.json").write_text(json.dumps({**info, "split": "dev"}))
    assert len(tuning_queries(load_recipe(path), dataset, "train")[0]) == len(dataset.queries("train"))


def test_a_hybrid_opened_on_another_kind_of_index_is_a_clear_error(bm25_index, dense_index):
    for index, kind in ((bm25_index, "bm25"), (dense_index, "dense")):
        with pytest.raises(LsrError, match=f"a {kind} index, not a hybrid one"):
            HybridSearcher.from_manifest(index)


@pytest.mark.parametrize("mode", ["fusion", "rerank"])
def test_depth_and_k_beyond_a_java_int_return_every_document(components, mode):
    sparse, dense = components
    every = HybridSearcher(sparse, dense, FusionConfig(mode=mode, depth=1000)).search("aspirin cancer", k=1000)
    huge = HybridSearcher(sparse, dense, FusionConfig(mode=mode, depth=2**40))
    assert len(every) > 1 and huge.search("aspirin cancer", k=2**40) == every
    assert dense.search("aspirin cancer", k=2**40) == dense.search("aspirin cancer", k=1000)


BAD_ARGUMENTS = [
    (lambda s: s.search(None), "a query must be a str, got NoneType None"),
    (lambda s: s.search(b"aspirin"), "a query must be a str, got bytes"),
    (lambda s: s.batch_search("aspirin risk"), "queries must be a list of str, got str 'aspirin risk' (search takes one query)"),
    (lambda s: s.batch_search(["aspirin", 5]), "a query must be a str, got int 5"),
    (lambda s: s.search("aspirin", k=2.5), "k must be at least 1 and a whole number, got 2.5"),
    (lambda s: s.batch_search(["aspirin", "risk"], threads=None), "threads must be a whole number, got None"),
    (lambda s: s.batch_search(["aspirin", "risk"], threads=10**6), "threads must be at most 512, got 1000000"),
]


@pytest.mark.parametrize("searcher", ["dense", "hybrid"])
@pytest.mark.parametrize("call, message", BAD_ARGUMENTS)
def test_dense_and_hybrid_arguments_of_the_wrong_type_are_a_clear_error(components, searcher, call, message):
    sparse, dense = components
    with pytest.raises(LsrError) as error:
        call(dense if searcher == "dense" else HybridSearcher(sparse, dense))
    assert message in str(error.value)


@pytest.mark.parametrize("path, message", [("", "'' is not an lsr index"), ("/", "/ is not an lsr index"), (None, "index_dir must be")])
def test_a_dense_or_hybrid_path_that_is_no_index_folder_is_a_clear_error(path, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for open_index in (DenseSearcher, HybridSearcher.from_manifest):
        with pytest.raises(LsrError) as error:
            open_index(path)
        assert message in str(error.value)


def test_a_fusion_grid_tries_the_recipe_s_own_mode_method_and_policy_where_it_names_none():
    from lsr.eval.tune import Grid

    recipe = load_recipe("indexing/hybrid-bm25-minilm-rrf.yaml")
    grid = Grid().for_recipe(recipe)
    assert (grid.modes, grid.methods, grid.missing, grid.lists) == ((recipe.fusion.mode,), ("rrf",), (recipe.fusion.missing,), 2)
    assert Grid(methods=("minmax", "zscore")).for_recipe(recipe).methods == ("minmax", "zscore")
    assert len(list(grid.configs(recipe.fusion))) == 2 * 11 * 4  # the default depths x dense weights x RRF constants
    with pytest.raises(LsrError, match="no depth to try"):
        Grid(depths=())
