"""Fusion of ranked lists against hand-computed examples, and against pyserini's own fusion."""

import pytest

from lsr.errors import LsrError
from lsr.eval.runs import write_run
from lsr.fusion import FusionConfig, fuse, fuse_runs, normalise, ranks, rrf
from lsr.search import Hit

SPARSE = [Hit("a", 10.0), Hit("b", 6.0), Hit("c", 2.0)]
DENSE = [Hit("b", 0.8), Hit("d", 0.6), Hit("a", 0.4)]


def approx(hits):
    return [(h.docid, pytest.approx(h.score)) for h in hits]


def test_rrf_by_hand():
    # a: ranks 1 and 3; b: ranks 2 and 1; c: rank 3 only; d: rank 2 only
    expected = {"a": 1 / 61 + 1 / 63, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62}
    assert approx(rrf([SPARSE, DENSE], k=60)) == approx([Hit(d, s / 2) for d, s in sorted(expected.items(), key=lambda x: -x[1])])
    weighted = fuse([SPARSE, DENSE], [0.8, 0.2], "rrf", rrf_k=1)
    assert approx(weighted) == approx([Hit("a", 0.8 / 2 + 0.2 / 4), Hit("b", 0.8 / 3 + 0.2 / 2), Hit("c", 0.8 / 4), Hit("d", 0.2 / 3)])


def test_tied_scores_share_the_best_rank():
    tied = [Hit("x", 3.0), Hit("b", 2.0), Hit("a", 2.0), Hit("y", 1.0)]
    assert ranks(tied) == {"x": 1, "b": 2, "a": 2, "y": 4}
    # equal fused scores are ordered by doc id, whatever the input order
    assert approx(rrf([tied], k=60)) == approx([Hit("x", 1 / 61), Hit("a", 1 / 62), Hit("b", 1 / 62), Hit("y", 1 / 64)])


def test_minmax_weighted_sum_by_hand():
    # min-max: sparse a 1, b .5, c 0; dense b 1, d .5, a 0; missing docs get the list's minimum (0)
    assert approx(fuse([SPARSE, DENSE], [0.5, 0.5], "minmax")) == approx([Hit("b", 0.75), Hit("a", 0.5), Hit("d", 0.25), Hit("c", 0.0)])
    assert approx(fuse([SPARSE, DENSE], [0.2, 0.8], "minmax", k=2)) == approx([Hit("b", 0.9), Hit("d", 0.4)])


def test_missing_documents_get_the_list_minimum_or_zero():
    # raw scores: the sparse minimum is 2, the dense minimum 0.4
    assert approx(fuse([SPARSE, DENSE], [0.5, 0.5], "raw", missing="min")) == approx([Hit("a", 5.2), Hit("b", 3.4), Hit("d", 1.3), Hit("c", 1.2)])
    assert approx(fuse([SPARSE, DENSE], [0.5, 0.5], "raw", missing="zero")) == approx([Hit("a", 5.2), Hit("b", 3.4), Hit("c", 1.0), Hit("d", 0.3)])


def test_zscore_by_hand():
    # sparse: mean 2, std 1 -> a 1, b -1; dense: all equal -> 0; b misses dense (min 0), c misses sparse (min -1)
    fused = fuse([[Hit("a", 3.0), Hit("b", 1.0)], [Hit("a", 5.0), Hit("c", 5.0)]], [0.5, 0.5], "zscore")
    assert approx(fused) == approx([Hit("a", 0.5), Hit("b", -0.5), Hit("c", -0.5)])


def test_normalise_edge_cases():
    assert normalise([], "minmax") == []
    assert normalise([Hit("a", 7.0)], "minmax") == [Hit("a", 1.0)]
    assert normalise([Hit("a", 2.0), Hit("b", 2.0)], "zscore") == [Hit("a", 0.0), Hit("b", 0.0)]
    zscores = normalise([Hit("a", 4.0), Hit("b", 2.0), Hit("c", 0.0)], "zscore")
    assert approx(zscores) == approx([Hit("a", 1.2247449), Hit("b", 0.0), Hit("c", -1.2247449)])


def test_a_single_list_keeps_its_order():
    for method in ("rrf", "minmax", "zscore", "raw"):
        assert [h.docid for h in fuse([SPARSE], [1.0], method)] == ["a", "b", "c"]
    assert fuse([[Hit("only", 0.3)]], [1.0], "minmax") == [Hit("only", 1.0)]


def test_empty_lists():
    # an empty list adds nothing: the other list's order survives, whatever the weights
    assert [h.docid for h in fuse([[], DENSE], [0.7, 0.3], "minmax")] == ["b", "d", "a"]
    assert approx(fuse([SPARSE, []], [0.5, 0.5], "rrf")) == approx([Hit("a", 0.5 / 61), Hit("b", 0.5 / 62), Hit("c", 0.5 / 63)])
    assert fuse([[], []], [0.5, 0.5], "zscore") == []
    with pytest.raises(LsrError, match="at least one ranked list"):
        fuse([])


@pytest.mark.parametrize("call, message", [
    (lambda: fuse([SPARSE, DENSE], method="combsum"), "unknown fusion method 'combsum'"),
    (lambda: fuse([SPARSE, DENSE], missing="max"), "unknown missing-document policy"),
    (lambda: fuse([SPARSE, DENSE], [0.5, 0.6]), "sum to 1"),
    (lambda: fuse([SPARSE, DENSE], [1.5, -0.5]), "non-negative"),
    (lambda: fuse([SPARSE, DENSE], [1.0]), "1 fusion weight\\(s\\) for 2 ranked list"),
    (lambda: fuse([SPARSE + [Hit("a", 1.0)]], [1.0]), "same document twice"),
    (lambda: fuse([SPARSE], [1.0], "rrf", rrf_k=0), "rrf_k must be positive"),
    (lambda: normalise(SPARSE, "l2"), "unknown normalisation"),
    (lambda: FusionConfig(dense_weight=1.2), "dense_weight must be a number in \\[0, 1\\]"),
    (lambda: FusionConfig(mode="cascade"), "mode must be one of"),
    (lambda: FusionConfig(method="max"), "unknown fusion method"),
])
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(LsrError, match=message):
        call()


def test_fuse_runs_handles_queries_missing_from_a_run():
    runs = [{"q1": dict(SPARSE), "q2": {"x": 1.0}}, {"q1": dict(DENSE)}]
    fused = fuse_runs(runs, [0.5, 0.5], "minmax")
    assert list(fused["q1"]) == ["b", "a", "d", "c"]
    assert fused["q2"] == {"x": 0.5}


def test_config_combines_sparse_and_dense_with_its_weights():
    config = FusionConfig(method="minmax", dense_weight=0.8)
    assert config.weights == (pytest.approx(0.2), 0.8)
    assert config.combine(SPARSE, DENSE, k=2) == fuse([SPARSE, DENSE], [0.2, 0.8], "minmax", k=2)
    assert FusionConfig(method="rrf").describe() == "fusion rrf w=0.5 d=1000 rrf_k=60"


def test_agrees_with_pyserini_fusion(tmp_path):
    """pyserini.fusion (pandas, no JVM) on the same runs: RRF and min-max with missing -> 0, equal weights."""
    from pyserini.fusion import normalize, reciprocal_rank_fusion
    from pyserini.trectools import TrecRun

    runs = [{"q1": dict(SPARSE), "q2": {"a": 3.0, "b": 1.0, "e": 0.5}}, {"q1": dict(DENSE), "q2": {"e": 2.0, "a": 1.0}}]
    for i, run in enumerate(runs):
        write_run(run, tmp_path / f"{i}.trec", tag=str(i))
    trec = [TrecRun(str(tmp_path / f"{i}.trec")) for i in range(2)]

    def as_run(result):
        return {q: {d: s for d, s in zip(g["docid"], g["score"])} for q, g in result.run_data.groupby("topic")}

    theirs = as_run(reciprocal_rank_fusion(trec, rrf_k=60))
    ours = fuse_runs(runs, method="rrf", rrf_k=60)
    assert {q: {d: pytest.approx(s / 2) for d, s in hits.items()} for q, hits in theirs.items()} == ours
    theirs = as_run(normalize(trec))
    ours = fuse_runs(runs, method="minmax", missing="zero")
    assert {q: {d: pytest.approx(s / 2) for d, s in hits.items()} for q, hits in theirs.items()} == ours
    assert all(list(ours[q]) == list(theirs[q]) for q in ours)  # same order, ties included


BM25 = [Hit("a", 9.0), Hit("b", 5.0), Hit("c", 5.0), Hit("e", 1.0)]


def test_three_lists_with_per_list_weights_by_hand():
    # min-max: SPARSE a 1, b .5, c 0; BM25 a 1, b .5, c .5 (tie), e 0; DENSE b 1, d .5, a 0
    config = FusionConfig(method="minmax", list_weights=(0.5, 0.25, 0.25))
    assert config.dense_weight == 0.25 and config.weights == (0.5, 0.25, 0.25)
    # missing -> the list's minimum (0 after min-max): a .5+.25+0, b .25+.125+.25, c 0+.125+0, d .125, e 0
    expected = [Hit("a", 0.75), Hit("b", 0.625), Hit("c", 0.125), Hit("d", 0.125), Hit("e", 0.0)]
    assert approx(config.combine_lists([SPARSE, BM25, DENSE])) == approx(expected)  # c and d tie: by doc id
    # RRF, k=1: tied b and c share rank 2 in BM25, e is then rank 4; a list lacking a document adds nothing
    rrf3 = FusionConfig(method="rrf", rrf_k=1, list_weights=(0.5, 0.25, 0.25)).combine_lists([SPARSE, BM25, DENSE], k=3)
    assert approx(rrf3) == approx([Hit("a", 0.5 / 2 + 0.25 / 2 + 0.25 / 4), Hit("b", 0.5 / 3 + 0.25 / 3 + 0.25 / 2),
                                   Hit("c", 0.5 / 4 + 0.25 / 3)])


def test_three_lists_with_an_empty_list_and_a_single_hit_list():
    config = FusionConfig(method="minmax", list_weights=(0.2, 0.3, 0.5))
    # the empty list adds nothing; a one-hit list normalises to 1.0 and its missing docs get its minimum, 1.0
    fused = config.combine_lists([SPARSE, [], [Hit("c", 0.3)]])
    assert approx(fused) == approx([Hit("a", 0.2 + 0.5), Hit("b", 0.1 + 0.5), Hit("c", 0.0 + 0.5)])
    zero = FusionConfig(method="minmax", missing="zero", list_weights=(0.2, 0.3, 0.5)).combine_lists([SPARSE, [], [Hit("c", 0.3)]])
    assert approx(zero) == approx([Hit("c", 0.5), Hit("a", 0.2), Hit("b", 0.1)])
    assert FusionConfig(list_weights=(0.2, 0.3, 0.5)).combine_lists([[], [], []]) == []


def test_list_weights_are_checked():
    with pytest.raises(LsrError, match="sum to 1"):
        FusionConfig(list_weights=(0.5, 0.5, 0.5))
    with pytest.raises(LsrError, match="at least two weights"):
        FusionConfig(list_weights=(1.0,))
    with pytest.raises(LsrError, match="3 ranked lists but 2 fusion weights"):
        FusionConfig(dense_weight=0.4).combine_lists([SPARSE, BM25, DENSE])
    assert FusionConfig(method="minmax", list_weights=(0.2, 0.3, 0.5), depth=50).describe() == "fusion minmax w=0.2/0.3/0.5 d=50 missing=min"
    # two lists through list_weights fuse exactly as dense_weight does
    assert approx(FusionConfig(list_weights=(0.3, 0.7)).combine(SPARSE, DENSE)) == approx(FusionConfig(dense_weight=0.7).combine(SPARSE, DENSE))
