"""ONNX exports (lsr.encoders.onnx): they encode like the torch models, int8 within a stated tolerance, and bad files are clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lsr.errors import LsrError

TEXTS = ["Does aspirin reduce colorectal cancer risk?", "smoking and lung cancer", "vitamin D"]
INT8_COSINE = 0.98  # the least cosine between a text's int8 and torch vectors that these tests accept


@pytest.fixture(scope="module")
def sparse_export(tmp_path_factory):
    from lsr.encoders.onnx import export_model

    return export_model("splade-tiny", tmp_path_factory.mktemp("splade-tiny")).parent


@pytest.fixture(scope="module")
def dense_export(tmp_path_factory):
    from lsr.encoders.onnx import export_model

    return export_model("all-MiniLM-L6-v2", tmp_path_factory.mktemp("minilm")).parent


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_a_sparse_export_encodes_queries_like_the_torch_model(sparse_export):
    from lsr.encoders import sparse
    from lsr.encoders.onnx import OnnxEncoder

    torch_model = sparse.load_sparse_encoder("splade-tiny", query_length=64)
    expected = sparse.encode(torch_model, TEXTS, task="query").toarray()
    fp32 = OnnxEncoder(sparse_export / "model.onnx", max_length=64).run(TEXTS)
    int8 = OnnxEncoder(sparse_export / "model_int8.onnx", max_length=64).run(TEXTS)
    assert fp32.shape == expected.shape
    np.testing.assert_allclose(fp32, expected, atol=1e-3)
    assert _cosines(int8, expected).min() >= INT8_COSINE
    for row in range(len(TEXTS)):  # the heaviest term survives quantisation
        assert int8[row].argmax() == expected[row].argmax()


def test_a_dense_export_embeds_like_the_sentence_transformer(dense_export):
    from lsr.encoders import dense
    from lsr.encoders.onnx import OnnxEncoder

    expected = dense.encode(dense.load_dense_encoder("all-MiniLM-L6-v2"), TEXTS, "query")
    fp32 = OnnxEncoder(dense_export / "model.onnx").run(TEXTS)
    int8 = OnnxEncoder(dense_export / "model_int8.onnx").run(TEXTS)
    np.testing.assert_allclose(fp32, expected, atol=1e-4)
    assert _cosines(int8, expected).min() >= INT8_COSINE
    assert OnnxEncoder(dense_export / "model.onnx").run([]).shape == (0, expected.shape[1])


def test_a_dense_onnx_index_applies_the_models_own_query_prompt(tmp_path, tiny):
    from lsr.encoders import dense
    from lsr.index.dense import build_dense_index
    from lsr.index.recipe import DenseRecipe
    from lsr.search import Searcher

    model = dense.load_dense_encoder("all-MiniLM-L6-v2")
    model.prompts = {"query": "query: ", "document": "passage: "}
    model.save(str(tmp_path / "prompted"))
    index = tmp_path / "prompted-onnx"
    build_dense_index(DenseRecipe(name="prompted-onnx", encoder=str(tmp_path / "prompted"), query_backend="onnx"), tiny, index,
                      threads=1, progress=False)
    assert json.loads((index / "query" / "onnx" / "lsr-onnx.json").read_text())["query_prompt"] == "query: "
    with Searcher.open(index) as searcher:
        np.testing.assert_allclose(searcher.encode(TEXTS), dense.encode(model, TEXTS, "query"), atol=1e-4)


def test_the_export_records_what_it_computes_and_each_file_checksum(sparse_export, dense_export):
    from lsr.data import file_sha256

    sparse_settings = json.loads((sparse_export / "lsr-onnx.json").read_text())
    dense_settings = json.loads((dense_export / "lsr-onnx.json").read_text())
    assert (sparse_settings["kind"], sparse_settings["activation"]) == ("sparse", "relu")
    assert (dense_settings["kind"], dense_settings["pooling"], dense_settings["normalize"], dense_settings["dim"]) == ("dense", "mean", True, 384)
    for folder, settings in ((sparse_export, sparse_settings), (dense_export, dense_settings)):
        assert set(settings["sha256"]) == {"model.onnx", "model_int8.onnx"}
        assert all(file_sha256(folder / name) == digest for name, digest in settings["sha256"].items())


def test_a_damaged_missing_or_foreign_onnx_file_is_a_clear_error(sparse_export, tmp_path):
    import shutil

    from lsr.encoders.onnx import OnnxEncoder

    folder = tmp_path / "export"
    shutil.copytree(sparse_export, folder)
    data = (folder / "model_int8.onnx").read_bytes()
    (folder / "model_int8.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(LsrError, match="model_int8.onnx does not match its checksum"):
        OnnxEncoder(folder / "model_int8.onnx")
    (folder / "model.onnx").unlink()
    with pytest.raises(LsrError, match="model.onnx is missing"):
        OnnxEncoder(folder / "model.onnx")
    (folder / "lsr-onnx.json").unlink()
    with pytest.raises(LsrError, match="not an lsr ONNX export"):
        OnnxEncoder(folder / "model_int8.onnx")


def test_models_the_export_does_not_handle_are_refused_by_name(tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense

    from lsr.encoders.dense import load_dense_encoder
    from lsr.encoders.onnx import export

    base = load_dense_encoder("all-MiniLM-L6-v2")
    projected = SentenceTransformer(modules=[base[0], base[1], Dense(384, 8)], device="cpu")
    with pytest.raises(LsrError, match="Transformer, Pooling and an optional Normalize; this model is .*Dense"):
        export(projected, tmp_path)


def test_query_backend_is_checked_and_changes_the_fingerprint_only_when_set():
    from lsr.index.recipe import DenseRecipe, IndexRecipe

    with pytest.raises(LsrError, match="query_backend must be one of"):
        IndexRecipe(name="x", encoder="splade-tiny", query_backend="tensorrt")
    with pytest.raises(LsrError, match="query_encoder 'idf' has none"):
        IndexRecipe(name="x", encoder="splade-tiny", query_encoder="idf", query_backend="onnx")
    with pytest.raises(LsrError, match="a BM25 index has none"):
        IndexRecipe(name="x", query_backend="onnx-int8")
    with pytest.raises(LsrError, match="query_backend must be one of"):
        DenseRecipe(name="x", query_backend="int4")
    torch_recipe = IndexRecipe(name="x", encoder="splade-tiny")
    assert torch_recipe.fingerprint() == IndexRecipe(name="x", encoder="splade-tiny", query_backend="torch").fingerprint()
    assert torch_recipe.fingerprint() != IndexRecipe(name="x", encoder="splade-tiny", query_backend="onnx").fingerprint()
    assert DenseRecipe(name="x").fingerprint() != DenseRecipe(name="x", query_backend="onnx-int8").fingerprint()
    assert DenseRecipe(name="x").documents_fingerprint() == DenseRecipe(name="x", query_backend="onnx-int8").documents_fingerprint()


def test_an_index_with_onnx_queries_searches_like_the_torch_one(tmp_path, tiny, splade_index, dense_index):
    from lsr.index.build import build_index
    from lsr.index.dense import build_dense_index
    from lsr.index.recipe import DenseRecipe, IndexRecipe
    from lsr.search import Searcher

    sparse_onnx, dense_onnx = tmp_path / "splade-onnx", tmp_path / "minilm-onnx"
    build_index(IndexRecipe(name="splade-onnx", encoder="splade-tiny", query_backend="onnx"), tiny, sparse_onnx, threads=1, progress=False)
    build_dense_index(DenseRecipe(name="minilm-onnx", query_backend="onnx-int8"), tiny, dense_onnx, threads=1, progress=False)
    for reference, exported, backend in ((splade_index, sparse_onnx, "onnx"), (dense_index, dense_onnx, "onnx-int8")):
        with Searcher.open(reference) as torch_searcher, Searcher.open(exported) as onnx_searcher:
            assert onnx_searcher.manifest["query"]["backend"] == backend
            for query in TEXTS:
                expected, got = torch_searcher.search(query, k=3), onnx_searcher.search(query, k=3)
                assert got[0].docid == expected[0].docid
                assert got[0].score == pytest.approx(expected[0].score, rel=0.05)
    searched = subprocess.run([sys.executable, "-c", TORCH_FREE, str(sparse_onnx), str(dense_onnx)], capture_output=True, text=True)
    assert searched.returncode == 0, searched.stderr
    assert searched.stdout.split() == ["hits", "hits", "torch-free"]


TORCH_FREE = """
import sys
from lsr.search import Searcher
for index in sys.argv[1:]:
    with Searcher.open(index) as searcher:
        print("hits" if searcher.search("aspirin and cancer", k=3) else "none")
print("torch-free" if "torch" not in sys.modules else "torch imported")
"""


def test_an_index_whose_onnx_query_model_is_gone_is_reported_as_damaged(tmp_path, tiny):
    from lsr.index.check import check_index
    from lsr.index.dense import build_dense_index
    from lsr.index.recipe import DenseRecipe

    output = tmp_path / "minilm-onnx"
    build_dense_index(DenseRecipe(name="minilm-onnx", query_backend="onnx"), tiny, output, threads=1, progress=False)
    (output / "query" / "onnx" / "model.onnx").unlink()
    with pytest.raises(LsrError, match="damaged lsr index: query/onnx/model.onnx"):
        check_index(output)


def test_lsr_export_onnx_writes_the_files_and_refuses_a_foreign_output(tmp_path, capsys):
    from lsr.cli import main

    assert main(["export", "onnx", "splade-tiny", "-o", str(tmp_path / "out"), "--no-int8", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.onnx")) == ["model.onnx"]
    assert "model.onnx" in capsys.readouterr().out
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export", "onnx", "splade-tiny", "-o", str(tmp_path / "notes.txt"), "--quiet"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_bench_times_each_query_model_in_torch_and_onnx_and_checks_fidelity(tmp_path):
    from lsr.bench.query_encoding import query_encoding_speed

    result = query_encoding_speed(TEXTS, tmp_path, models=["splade-tiny"], repeats=1)["splade-tiny"]
    assert result["kind"] == "sparse" and result["queries"] == len(TEXTS)
    assert all(result[f"{v}_p50_ms"] > 0 for v in ("torch_fp32", "onnx_fp32", "onnx_int8"))
    assert result["onnx_fp32_cosine_min"] >= 0.9999 and result["onnx_int8_cosine_min"] >= INT8_COSINE


def test_searchers_time_their_query_model_apart_from_the_search(splade_index, if_index, tiny):
    from lsr.eval.evaluate import run_system
    from lsr.search import Searcher

    queries = dict(list(tiny.queries("test").items())[:2])
    _, timings = run_system(splade_index, queries, k=5, threads=1, progress=False)
    assert timings["query_encode_ms"] > 0
    _, timings = run_system(if_index, queries, k=5, threads=1, progress=False)
    assert isinstance(timings["query_encode_ms"], float)
    with Searcher.open(if_index) as searcher:  # a table runs no model: encode_query leaves the encoder alone
        searcher.encoder = None
        searcher.encode_query(TEXTS[0])


def test_an_inference_free_model_is_not_exported_as_a_query_model(tmp_path, tiny):
    from lsr.index.build import build_index
    from lsr.index.recipe import IndexRecipe

    recipe = IndexRecipe(name="if-onnx", encoder="inference-free-bm25-tiny", query_encoder="model", query_backend="onnx")
    with pytest.raises(LsrError, match="inference-free: its queries are weighted by a table"):
        build_index(recipe, tiny, tmp_path / "if-onnx", threads=1, progress=False)
    assert not (tmp_path / "if-onnx").exists()
