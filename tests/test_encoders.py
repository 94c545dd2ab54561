"""Encoders: model names, the IDF table, and the torch-free query encoder against sentence-transformers."""

import math

import numpy as np
import pytest

from lsr.encoders.idf import corpus_idf
from lsr.encoders.names import MODELS, packaged_path, resolve_model
from lsr.encoders.table import TableQueryEncoder, load_tokenizer, read_weights
from lsr.errors import LsrError


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("splade-tiny"))


def test_short_names_resolve_to_packaged_copies():
    assert resolve_model("splade-tiny") == str(packaged_path("splade-tiny"))
    assert resolve_model("rasyosef/splade-tiny") == str(packaged_path("splade-tiny"))  # hub id -> offline copy
    assert resolve_model("all-MiniLM-L6-v2").endswith("model")
    assert resolve_model("splade-v3") == MODELS["splade-v3"][2]  # not packaged: the hub id
    assert resolve_model("some-org/some-model") == "some-org/some-model"


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(LsrError, match=r"unknown model 'splade-huge'.*splade-tiny"):
        resolve_model("splade-huge")


def test_unloadable_model_names_the_model(tmp_path):
    from lsr.encoders.sparse import load_sparse_encoder

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(LsrError, match="cannot load sparse encoder"):
        load_sparse_encoder(str(tmp_path))


def test_idf_matches_the_formula(tokenizer):
    texts = ["sleep cancer", "sleep sleep heart", "lung cancer", ""]
    idf = corpus_idf(texts, tokenizer, progress=False)
    n = 4
    def expected(df):
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    assert idf["sleep"] == pytest.approx(expected(2))  # counted once per document
    assert idf["lung"] == pytest.approx(expected(1))
    assert idf["zebra"] == pytest.approx(expected(0))
    assert not {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"} & set(idf)
    assert len(idf) == tokenizer.get_vocab_size() - 5


def test_table_encoder_matches_sentence_transformers(tokenizer):
    """The torch-free query path gives what SparseStaticEmbedding gives for the same idf.json."""
    from transformers import AutoTokenizer

    from lsr.encoders.sparse import inference_free_encoder, load_sparse_encoder, to_csr

    weights = corpus_idf(["aspirin lowers cancer risk", "statins lower cholesterol", "the cat"], tokenizer, progress=False)
    model = inference_free_encoder(load_sparse_encoder("splade-tiny"), weights)
    ours = TableQueryEncoder(tokenizer, weights)
    vocab = AutoTokenizer.from_pretrained(resolve_model("splade-tiny")).convert_ids_to_tokens
    for query in ["Do statins lower cholesterol?", "aspirin aspirin CANCER", "[SEP] covid-19 ##ing"]:
        row = to_csr(model.encode_query([query], convert_to_sparse_tensor=True))
        theirs = {vocab(int(j)): float(w) for j, w in zip(row.indices, row.data)}
        assert ours.encode(query) == pytest.approx(theirs)


def test_inference_free_model_saves_and_loads_with_plain_sparse_encoder(tmp_path, tokenizer):
    from sentence_transformers import SparseEncoder

    from lsr.encoders.sparse import encode, inference_free_encoder, load_sparse_encoder, query_table

    weights = corpus_idf(["aspirin lowers cancer risk", "the cat sat"], tokenizer, progress=False)
    model = inference_free_encoder(load_sparse_encoder("splade-tiny", document_length=64), weights)
    model.save(str(tmp_path / "m"))
    loaded = SparseEncoder(str(tmp_path / "m"), device="cpu")
    docs = ["Aspirin lowers the risk of cancer.", "A cat."]
    assert (encode(model, docs, "document") != encode(loaded, docs, "document")).nnz == 0
    assert query_table(loaded)["cancer"] == pytest.approx(weights["cancer"])


def test_weight_table_errors(tmp_path):
    path = tmp_path / "idf.json"
    path.write_text('{"a": "x"}')
    with pytest.raises(LsrError, match="mapping tokens to numbers"):
        read_weights(path)
    path.write_text("{")
    with pytest.raises(LsrError, match="cannot read weight table"):
        read_weights(path)


@pytest.mark.parametrize("existing", ["corpus", "manifest", "symlink", "table"])
def test_a_weight_table_replaces_only_a_weight_table(tmp_path, existing):
    """``lsr idf -o`` pointed at its own corpus, an index manifest or a link must not overwrite it; an older table is replaced."""
    from lsr.encoders.table import write_weights

    path = tmp_path / "out.json"
    target = tmp_path / "elsewhere.txt"
    content = {"corpus": '{"_id": "d1", "text": "x"}\n', "manifest": '{"kind": "bm25", "num_docs": 1}', "table": '{"a": 1.5}'}.get(existing)
    if existing == "symlink":
        target.write_text("mine")
        path.symlink_to(target)
    else:
        path.write_text(content)
    if existing == "table":
        write_weights({"b": 2.0}, path)
        assert read_weights(path) == {"b": 2.0}
        return
    with pytest.raises(LsrError, match=f"^{path} exists and is not a weight table"):
        write_weights({"b": 2.0}, path)
    assert (target.read_text() == "mine") if existing == "symlink" else (path.read_text() == content)


def test_fast_splade_pooling_equals_sentence_transformers():
    """splade_max_pool gives sentence-transformers' SPLADE document vectors, number for number."""
    from lsr.encoders.sparse import encode, load_sparse_encoder, to_csr

    model = load_sparse_encoder("splade-tiny", document_length=32)
    texts = ["Aspirin lowers the risk of colorectal cancer in adults who take it daily for years.", "A cat.", "x " * 100]
    ours = encode(model, texts, task="document", batch_size=2)
    theirs = to_csr(model.encode_document(texts, batch_size=2, convert_to_sparse_tensor=True))
    assert ours.shape == theirs.shape and ours.nnz == theirs.nnz > 0
    assert abs(ours - theirs).max() < 1e-5


def test_bi_encoder_becomes_a_splade_model(tmp_path):
    """all-MiniLM-L6-v2 (no MLM head) loads as SPLADE: sparse, about the document's words, reloads identically."""
    from sentence_transformers import SparseEncoder

    from lsr.encoders.mlm import has_mlm_head
    from lsr.encoders.sparse import encode, load_sparse_encoder, vocabulary

    assert not has_mlm_head(resolve_model("all-MiniLM-L6-v2")) and has_mlm_head(resolve_model("splade-tiny"))
    model = load_sparse_encoder("all-MiniLM-L6-v2", document_length=64)
    docs = ["Daily aspirin use lowers the risk of colorectal cancer in adults.", "Cigarette smoking causes lung cancer."]
    matrix = encode(model, docs, task="document")
    terms = vocabulary(model)
    active = np.diff(matrix.indptr)
    assert (active > 5).all() and (active < 2000).all()  # sparse from the start (the bias), not empty
    top = {terms[j] for j in np.argsort(-matrix[0].toarray().ravel())[:20]}
    assert {"aspirin", "cancer"} & top, top
    model.save(str(tmp_path / "minilm-splade"))
    reloaded = SparseEncoder(str(tmp_path / "minilm-splade"), device="cpu")
    assert has_mlm_head(str(tmp_path / "minilm-splade"))
    assert abs(encode(reloaded, docs, task="document") - matrix).max() < 1e-5


def test_a_single_siamese_query_is_encoded_on_one_torch_thread(monkeypatch):
    """Latency: one query runs torch on one thread, and the caller's thread count is restored."""
    import torch

    from lsr.encoders.sparse import ModelQueryEncoder, load_sparse_encoder

    encoder = ModelQueryEncoder(load_sparse_encoder("splade-tiny", query_length=16))
    seen = []
    batch = encoder.encode_batch
    monkeypatch.setattr(encoder, "encode_batch", lambda queries: seen.append(torch.get_num_threads()) or batch(queries))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        single, batched = encoder.encode("aspirin and cancer"), batch(["aspirin and cancer"])[0]
        terms = single.keys() | batched.keys()  # 1 and 2 threads sum in different orders: compare with a tolerance
        assert single and [single.get(t, 0.0) for t in terms] == pytest.approx([batched.get(t, 0.0) for t in terms], rel=1e-3, abs=1e-5)
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
