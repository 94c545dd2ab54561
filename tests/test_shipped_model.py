"""The model that ships inside lsr: its files match their checksums, load with plain SparseEncoder, and fail clearly when damaged."""

from __future__ import annotations

import shutil

import pytest
from sentence_transformers import SparseEncoder

from lsr.encoders.names import CHECKSUMS, MODELS, packaged_path, resolve_model, verify_checksums
from lsr.encoders.sparse import load_sparse_encoder
from lsr.errors import LsrError
from lsr.index.recipe import IndexRecipe

NAME = "inference-free-bm25-tiny"


@pytest.fixture(scope="module")
def shipped():
    path = packaged_path(NAME)
    assert path is not None, f"lsr/models/{NAME} is missing"
    return path


def test_every_file_of_the_shipped_model_is_listed_and_matches_its_checksum(shipped):
    listed = {line.split("  ", 1)[1] for line in (shipped / CHECKSUMS).read_text(encoding="utf-8").splitlines() if line.strip()}
    on_disk = {str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file()} - {CHECKSUMS, "README.md"}
    assert listed == on_disk
    assert {"document_0_Transformer/model.safetensors", "query_0_SparseStaticEmbedding/model.safetensors"} <= listed
    assert max((shipped / name).stat().st_size for name in listed) <= 25 * 2**20
    verify_checksums(shipped)  # raises on a mismatch
    assert resolve_model(NAME) == str(shipped)


def test_the_shipped_model_loads_with_plain_sentence_transformers_and_is_inference_free(shipped):
    model = SparseEncoder(str(shipped), device="cpu")
    document = model.encode_document(["Aspirin lowers the risk of colorectal cancer in adults."], convert_to_tensor=True)
    query = model.encode_query(["cancer risk"], convert_to_tensor=True)
    doc_terms = {model.tokenizer.convert_ids_to_tokens(int(i)) for i in document.coalesce().indices()[1]}
    query_terms = {model.tokenizer.convert_ids_to_tokens(int(i)) for i in query.coalesce().indices()[1]}
    assert "cancer" in doc_terms and len(doc_terms) > 5  # the document side runs the MLM model and expands
    assert query_terms == {"cancer", "risk"}            # the query side is a weight table over the query's own tokens


def test_the_default_channel_recipe_uses_the_shipped_model():
    recipe = IndexRecipe.load("indexing/inference-free-bm25.yaml")
    assert recipe.encoder == NAME and MODELS[NAME][0] == "lsr.models" and recipe.lexical_weight > 0


def test_a_damaged_or_missing_model_file_is_named_in_a_clear_error(shipped, tmp_path):
    copy = tmp_path / NAME
    shutil.copytree(shipped, copy)
    weights = copy / "document_0_Transformer" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(LsrError, match=r"model\.safetensors does not match its checksum"):
        load_sparse_encoder(str(copy))
    weights.unlink()
    with pytest.raises(LsrError, match=r"model\.safetensors is missing"):
        resolve_model(str(copy))
    (copy / CHECKSUMS).write_text("not a checksum line\n", encoding="utf-8")
    with pytest.raises(LsrError, match=r"SHA256SUMS:1: expected"):
        resolve_model(str(copy))


def test_the_shipped_model_is_a_backbone_that_training_and_adapt_can_fine_tune():
    from lsr.training.recipe import TrainRecipe
    from lsr.training.train import build_student

    student = build_student(TrainRecipe(name="s", backbone=NAME, lexical_weight=4.0, teachers=["bm25"]), {"cancer": 2.0, "risk": 0.5})
    query = student.encode_query(["cancer risk factors"], convert_to_tensor=True).coalesce()
    weights = {student.tokenizer.convert_ids_to_tokens(int(i)): float(w) for i, w in zip(query.indices()[1], query.values())}
    assert weights == pytest.approx({"cancer": 2.0, "risk": 0.5})  # the new corpus's table, not the shipped one
    shipped = SparseEncoder(str(packaged_path(NAME)), device="cpu")
    text = ["Aspirin lowers the risk of colorectal cancer in adults."]
    assert (student.encode_document(text, convert_to_tensor=True).to_dense()
            - shipped.encode_document(text, convert_to_tensor=True).to_dense()).abs().max() < 1e-4  # the shipped document model
