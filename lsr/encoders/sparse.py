"""Sentence-transformers ``SparseEncoder`` models: SPLADE (siamese) and inference-free.

SPLADE: ``w_j = max_i log(1 + ReLU(logit_ij))`` over the MLM logits of the non-padding tokens;
queries and documents both go through the model. Inference-free: documents go through the same
MLM + SPLADE pooling; queries through a ``SparseStaticEmbedding`` (tokenizer + weight table, IDF by
default), routed by sentence-transformers' ``Router``. Both save with ``model.save(path)`` and load
with plain ``SparseEncoder(path)``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from sentence_transformers import SparseEncoder
from sentence_transformers.sparse_encoder.modules import Router, SparseStaticEmbedding, SpladePooling, Transformer

from lsr.encoders.loading import no_progress_bars
from lsr.encoders.names import resolve_model
from lsr.encoders.threads import torch_threads
from lsr.errors import LsrError


def load_sparse_encoder(name: str, document_length: int | None = None, query_length: int | None = None,
                        device: str | None = "cpu") -> SparseEncoder:
    """Load a SparseEncoder by short name, path or hub id; a plain MLM checkpoint gets SPLADE max pooling.

    A bare encoder without an MLM head (a sentence-transformers bi-encoder such as all-MiniLM-L6-v2)
    becomes a SPLADE model through :func:`lsr.encoders.mlm.bi_encoder_as_splade`.

    ``document_length`` / ``query_length`` cap the tokens per document / query (None: the model's own);
    ``device=None`` lets sentence-transformers pick (a GPU when there is one).
    """
    from lsr.encoders.mlm import bi_encoder_as_splade, has_mlm_head

    path = resolve_model(name)
    try:
        with no_progress_bars():
            model = SparseEncoder(path, device=device) if has_mlm_head(path) else bi_encoder_as_splade(path, device=device)
    except Exception as error:  # transformers/hub raise many types; name the model in one clear error
        raise LsrError(f"cannot load sparse encoder {name!r} from {path}: {type(error).__name__}: {error}") from None
    for module in model.modules():
        if isinstance(module, Transformer):
            _check_length(name, module, document_length, "document (doc_max_length)")
            _check_length(name, module, query_length, "query (query_max_length)")
            if document_length is not None:
                module.document_length = document_length
            if query_length is not None:
                module.query_length = query_length
    return model


def _check_length(name: str, module: Transformer, length: int | None, what: str) -> None:
    """LsrError when ``length`` tokens per ``what`` exceed what the model's position embeddings reach (when it has them)."""
    limit = getattr(module.auto_model.config, "max_position_embeddings", None)
    if length is not None and isinstance(limit, int) and length > limit:
        raise LsrError(f"sparse encoder {name!r} reads at most {limit} tokens per text (its max_position_embeddings), "
                       f"asked for {length} per {what}")


def inference_free_encoder(document_model: SparseEncoder, weights: dict[str, float], frozen: bool = True) -> SparseEncoder:
    """An inference-free model: ``document_model`` on documents, the token weight table on queries."""
    transformer = next(m for m in document_model.modules() if isinstance(m, Transformer))
    router = next((m for m in document_model if isinstance(m, Router)), None)  # already inference-free: keep its document side
    doc_modules = list(router.sub_modules["document"]) if router is not None else list(document_model)
    tokenizer = transformer.tokenizer
    static = SparseStaticEmbedding(tokenizer, weight=weight_vector(tokenizer.get_vocab(), weights), frozen=frozen)
    router = Router.for_query_document(query_modules=[static], document_modules=doc_modules)
    return SparseEncoder(modules=[router], device=str(document_model.device))


def weight_vector(vocab: dict[str, int], weights: dict[str, float]) -> torch.Tensor:
    """A table {token: weight} as a dense vector over the vocabulary (missing tokens 0)."""
    vector = torch.zeros(len(vocab), dtype=torch.float32)
    for token, weight in weights.items():
        if token in vocab:
            vector[vocab[token]] = weight
    return vector


def query_table(model: SparseEncoder) -> dict[str, float] | None:
    """The query-side weight table of an inference-free model, or None for a siamese one."""
    for module in model.modules():
        if isinstance(module, SparseStaticEmbedding):
            vocab = module.tokenizer.get_vocab()
            weight = module.weight.detach().cpu().numpy()
            special = set(module.tokenizer.all_special_tokens)
            return {t: float(weight[i]) for t, i in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in special and weight[i] > 0}
    return None


def vocabulary(model: SparseEncoder) -> list[str]:
    """Token strings by vocabulary id: the terms written into the Lucene index."""
    transformer = next(m for m in model.modules() if isinstance(m, Transformer))
    vocab = transformer.tokenizer.get_vocab()
    terms = [""] * len(vocab)
    for token, index in vocab.items():
        terms[index] = token
    return terms


def to_csr(batch: torch.Tensor) -> sp.csr_matrix:
    """A batch of embeddings from ``encode_*`` (sparse or dense torch tensor) as a float32 CSR matrix."""
    if batch.is_sparse:
        batch = batch.coalesce().cpu()
        rows, cols = batch.indices().numpy()
        values = batch.values().numpy().astype(np.float32)
        matrix = sp.csr_matrix((values, (rows, cols)), shape=tuple(batch.shape))
    else:
        matrix = sp.csr_matrix(batch.cpu().numpy().astype(np.float32))
    matrix.eliminate_zeros()
    return matrix


@torch.inference_mode()
def encode(model: SparseEncoder, texts: Sequence[str], task: str, batch_size: int = 32) -> sp.csr_matrix:
    """Encode ``texts`` as queries or documents (``task``), returning one CSR row per text.

    Documents through a BERT-style SPLADE model (max pooling) take :func:`splade_max_pool`, which
    gives the same numbers about 3x faster; everything else goes through sentence-transformers.
    """
    if not texts:
        return sp.csr_matrix((0, len(vocabulary(model))), dtype=np.float32)
    if task == "document" and (parts := splade_parts(model)) is not None:
        transformer, pooling = parts
        length = getattr(transformer, "document_length", None) or transformer.max_seq_length
        return splade_max_pool(transformer, length, list(texts), batch_size, pooling.activation_function)
    method = model.encode_query if task == "query" else model.encode_document
    return to_csr(method(list(texts), batch_size=batch_size, convert_to_sparse_tensor=True, show_progress_bar=False))


def splade_parts(model: SparseEncoder) -> tuple[Transformer, SpladePooling] | None:
    """(transformer, pooling) when the document route is a BERT-style MLM followed by SPLADE max pooling."""
    modules = list(model)
    if len(modules) == 1 and isinstance(modules[0], Router):
        modules = list(modules[0].sub_modules["document"])
    if len(modules) != 2 or not isinstance(modules[0], Transformer) or not isinstance(modules[1], SpladePooling):
        return None
    transformer, pooling = modules
    mlm = transformer.auto_model
    if pooling.pooling_strategy != "max" or not hasattr(getattr(mlm, "cls", None), "predictions"):
        return None
    return transformer, pooling


@torch.inference_mode()
def splade_max_pool(transformer: Transformer, max_length: int, texts: list[str], batch_size: int = 32,
                    activation: str = "relu") -> sp.csr_matrix:
    """SPLADE max pooling, computed without materialising padded ``batch x length x vocab`` logits.

    Texts are batched by length (little padding); the MLM head runs only on real tokens, one
    text at a time; and since the activation (``log(1 + ReLU(x))``, or ``log1p`` of it for
    ``log1p_relu``) is monotonic, the max over tokens is taken on raw logits and the activation
    applied once per text.
    """
    mlm = transformer.auto_model
    mlm.eval()
    head = mlm.cls.predictions
    decoder = mlm.get_output_embeddings()
    order = np.argsort([-len(t) for t in texts], kind="stable")
    pooled = torch.empty(len(texts), decoder.weight.shape[0], device=decoder.weight.device)
    for start in range(0, len(texts), batch_size):
        batch = order[start:start + batch_size]
        features = transformer.tokenizer([texts[i] for i in batch], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        features = {key: value.to(decoder.weight.device) for key, value in features.items()}
        hidden = mlm.base_model(**features).last_hidden_state
        mask = features["attention_mask"].bool()
        tokens = head.transform(hidden[mask])
        offset = 0
        for row, length in zip(batch, mask.sum(1).tolist()):
            pooled[row] = torch.addmm(decoder.bias[:, None], decoder.weight, tokens[offset:offset + length].t()).amax(1)
            offset += length
    pooled = torch.log1p(torch.relu(pooled))
    if activation == "log1p_relu":
        pooled = torch.log1p(pooled)
    return sp.csr_matrix(pooled.cpu().numpy())


class ModelQueryEncoder:
    """Encode queries as {token: weight} through a SparseEncoder (siamese SPLADE query side)."""

    def __init__(self, model: SparseEncoder):
        self.model = model
        self.terms = vocabulary(model)

    def encode(self, query: str) -> dict[str, float]:
        """The query's non-zero token weights (one query runs torch on one thread: faster on shared cores)."""
        with torch_threads(1):
            return self.encode_batch([query])[0]

    def encode_batch(self, queries: Iterable[str]) -> list[dict[str, float]]:
        """Non-zero token weights of each query."""
        return rows_as_weights(encode(self.model, list(queries), task="query"), self.terms)


def rows_as_weights(matrix: sp.csr_matrix, terms: Sequence[str]) -> list[dict[str, float]]:
    """Each row's non-zero weights as {term: weight} (``terms``: the column names)."""
    return [
        {terms[j]: float(w) for j, w in zip(matrix.indices[a:b], matrix.data[a:b])}
        for a, b in zip(matrix.indptr[:-1], matrix.indptr[1:])
    ]
