"""Encoders exported to ONNX and run by ONNX Runtime: fp32, or int8 (dynamic quantisation of the weights).

An export folder holds ``model.onnx`` (and ``model_int8.onnx``), the tokenizer, and ``lsr-onnx.json``
(what the graph computes and each file's sha256). The graph takes ``input_ids`` and ``attention_mask``
and returns one vector per text with the pooling inside it:

- ``sparse``: an MLM model with SPLADE max pooling, ``w_j = max_i log(1 + ReLU(logit_ij))`` over the
  non-padding tokens (Formal et al. 2021, "SPLADE v2"); one weight per vocabulary term. An
  inference-free model exports its document side.
- ``dense``: a sentence-transformers bi-encoder (Transformer, mean/CLS/max Pooling, optional
  Normalize), one embedding per text.

sentence-transformers' own ``backend="onnx"`` needs optimum, which pins transformers below the 5.x line
that lsr runs on; this module does the same export with ``torch.onnx`` and quantises with
``onnxruntime.quantization.quantize_dynamic`` (per-channel int8 weights, activations quantised per
batch at run time; Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference"), leaving the feed-forward output projections in fp32 (:func:`ffn_outputs`).
Weights use 7 bits (``reduce_range``): x86 CPUs without VNNI compute u8 x s8 products in 16-bit pairs that
saturate on full-range weights, so an export gives the same numbers on every x86-64 CPU.
The graph is traced by torch's TorchScript exporter (``dynamo=False``), which needs no onnxscript.
A session runs on one thread: one short query is fastest that way on shared cores.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lsr.data import file_sha256
from lsr.errors import LsrError

log = logging.getLogger(__name__)

EXPORT_FILE = "lsr-onnx.json"
FP32, INT8 = "model.onnx", "model_int8.onnx"
BACKENDS = ("torch", "onnx", "onnx-int8")
"""How a recipe's queries are encoded: by the torch model, or by its ONNX export in fp32 or int8."""
OPSET = 17


def model_kind(name: str) -> str:
    """``sparse`` for a SparseEncoder or a plain MLM checkpoint, ``dense`` for a sentence-transformers bi-encoder."""
    from lsr.encoders.mlm import has_mlm_head
    from lsr.encoders.names import resolve_model

    path = Path(resolve_model(name))
    config = path / "config_sentence_transformers.json"
    if config.is_file():
        return "sparse" if json.loads(config.read_text(encoding="utf-8")).get("model_type") == "SparseEncoder" else "dense"
    return "sparse" if has_mlm_head(str(path)) else "dense"


def export_model(name: str, folder: str | os.PathLike, int8: bool = True, kind: str | None = None) -> Path:
    """Export the model ``name`` (short name, path or hub id) to ONNX in the existing ``folder``; returns its ONNX file
    (:func:`export`). ``kind``: ``sparse`` or ``dense`` (None: :func:`model_kind`)."""
    kind = kind or model_kind(name)
    if kind == "sparse":
        from lsr.encoders.sparse import load_sparse_encoder

        model = load_sparse_encoder(name)
    else:
        from lsr.encoders.dense import load_dense_encoder

        model = load_dense_encoder(name)
    return export(model, Path(folder), int8=int8, source=name)


def is_export(path: Path) -> bool:
    """Whether ``path`` is a folder that :func:`export` wrote."""
    return (path / EXPORT_FILE).is_file()


def export(model, folder: Path, int8: bool = True, source: str = "") -> Path:
    """Write ``model`` (a SparseEncoder or a SentenceTransformer) as ONNX into the existing ``folder``.

    Returns the file to run: ``model_int8.onnx`` when ``int8``, else ``model.onnx`` (both are written
    when ``int8``: the int8 weights are quantised from the fp32 graph).
    """
    import torch
    from sentence_transformers import SparseEncoder

    graph, tokenizer, settings = (_sparse_graph if isinstance(model, SparseEncoder) else _dense_graph)(model)
    folder = Path(folder)
    example = tokenizer(["an example text", "two"], padding=True, return_tensors="pt")
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "output": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about Python control flow in transformers' code are expected
        torch.onnx.export(graph.eval(), (example["input_ids"], example["attention_mask"]), str(folder / FP32),
                          input_names=["input_ids", "attention_mask"], output_names=["output"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    files = [FP32]
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()  # onnxruntime advises shape pre-processing on the root logger, for every model
        root.addFilter(_no_preprocessing_advice)
        try:
            quantize_dynamic(str(folder / FP32), str(folder / INT8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                             nodes_to_exclude=ffn_outputs(folder / FP32))
        finally:
            root.removeFilter(_no_preprocessing_advice)
        files.append(INT8)
    tokenizer.save_pretrained(str(folder))
    settings.update(source=source, opset=OPSET, sha256={f: file_sha256(folder / f) for f in files})
    (folder / EXPORT_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")
    return folder / files[-1]


def ffn_outputs(path: Path) -> list[str]:
    """The MatMuls of a BERT-family graph's feed-forward output projections (``layer.N/output/dense``), kept in fp32.

    Their inputs (after GELU) carry the outlier activations that per-tensor int8 handles worst (Bondarenko et
    al. 2021, "Understanding and Overcoming the Challenges of Efficient Transformer Quantization"); other
    architectures name them otherwise and are quantised whole.
    """
    import onnx

    return [node.name for node in onnx.load(str(path), load_external_data=False).graph.node
            if node.op_type == "MatMul" and "/output/dense/" in node.name and "/attention/" not in node.name]


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    return "pre-processing before quantization" not in record.getMessage()


def _sparse_graph(model):
    """(graph, tokenizer, settings) of a SparseEncoder whose documents go through an MLM and SPLADE max pooling."""
    import torch
    from sentence_transformers.sparse_encoder.modules import Router, SpladePooling, Transformer

    modules = list(model)
    if len(modules) == 1 and isinstance(modules[0], Router):
        modules = list(modules[0].sub_modules["document"])
    if len(modules) != 2 or not isinstance(modules[0], Transformer) or not isinstance(modules[1], SpladePooling):
        raise LsrError(f"ONNX export handles an MLM followed by SPLADE pooling; this model is {[type(m).__name__ for m in modules]}")
    transformer, pooling = modules
    if pooling.pooling_strategy != "max" or pooling.activation_function not in ("relu", "log1p_relu"):
        raise LsrError(f"ONNX export handles SPLADE max pooling with relu or log1p_relu; this model has "
                       f"{pooling.pooling_strategy} pooling with {pooling.activation_function}")
    twice = pooling.activation_function == "log1p_relu"

    class Splade(torch.nn.Module):
        def __init__(self, mlm):
            super().__init__()
            self.mlm = mlm

        def forward(self, input_ids, attention_mask):
            logits = self.mlm(input_ids=input_ids, attention_mask=attention_mask).logits
            padding = (1 - attention_mask.unsqueeze(-1).to(logits.dtype)) * 1e4
            pooled = torch.log1p(torch.relu((logits - padding).amax(1)))  # the activation is monotonic: max first, once per term
            return torch.log1p(pooled) if twice else pooled

    tokenizer = transformer.tokenizer
    length = transformer.max_seq_length
    settings = {"kind": "sparse", "max_length": length, "query_max_length": getattr(transformer, "query_length", None) or length,
                "activation": pooling.activation_function}
    return Splade(transformer.auto_model), tokenizer, settings


def _dense_graph(model):
    """(graph, tokenizer, settings) of a SentenceTransformer made of Transformer, Pooling and optionally Normalize."""
    import torch
    from sentence_transformers.models import Normalize, Pooling, Transformer

    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if not (2 <= len(modules) <= 3 and isinstance(modules[0], Transformer) and isinstance(modules[1], Pooling)
            and all(isinstance(m, Normalize) for m in modules[2:])):
        raise LsrError(f"ONNX export handles Transformer, Pooling and an optional Normalize; this model is {names}")
    pooling, normalize = modules[1], len(modules) == 3
    config = pooling.get_config_dict()
    mode = config.get("pooling_mode")
    if mode not in ("mean", "cls", "max") or not config.get("include_prompt", True):
        raise LsrError(f"ONNX export handles mean, cls or max pooling over every token; this model's pooling is {config}")

    class Dense(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            if mode == "cls":
                vector = hidden[:, 0]
            elif mode == "max":
                vector = (hidden - (1 - mask) * 1e9).amax(1)
            else:
                vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(vector, dim=-1) if normalize else vector

    prompts = model.prompts or {}  # what encode_query prepends when no prompt is given: the "query" prompt, else the default one
    settings = {"kind": "dense", "max_length": model.max_seq_length, "pooling": mode, "normalize": normalize,
                "dim": model.get_embedding_dimension(), "query_prompt": prompts.get("query", prompts.get(model.default_prompt_name or "", ""))}
    return Dense(modules[0].auto_model), model.tokenizer, settings


class OnnxEncoder:
    """Run an exported graph (``model.onnx`` or ``model_int8.onnx`` in an export folder) on one thread.

    ``max_length`` caps the tokens per text (None: what the export recorded for queries).
    """

    def __init__(self, path: str | os.PathLike, max_length: int | None = None):
        import onnxruntime

        from lsr.encoders.table import load_tokenizer

        self.path = Path(path)
        folder = self.path.parent
        if not (folder / EXPORT_FILE).is_file():
            raise LsrError(f"{folder}: not an lsr ONNX export ({EXPORT_FILE} is missing); make one with lsr export onnx MODEL")
        self.settings = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
        expected = self.settings.get("sha256", {}).get(self.path.name)
        if not self.path.is_file():
            raise LsrError(f"ONNX model {self.path} is missing; export it again (lsr export onnx MODEL)")
        if expected is None or file_sha256(self.path) != expected:
            raise LsrError(f"ONNX model {self.path} does not match its checksum in {folder / EXPORT_FILE}: "
                           "the file is damaged or was replaced; export it again (lsr export onnx MODEL)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            self.tokenizer = load_tokenizer(folder)  # the tokenizers library, not transformers, which imports torch
        except Exception as error:  # onnxruntime and tokenizers raise many types; name the file in one clear error
            raise LsrError(f"cannot load ONNX model {self.path}: {type(error).__name__}: {error}") from None
        self.max_length = max_length or self.settings.get("query_max_length") or self.settings["max_length"]
        self.tokenizer.enable_truncation(self.max_length)

    @property
    def kind(self) -> str:
        """``sparse`` or ``dense``."""
        return self.settings["kind"]

    def run(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One float32 row per text (sparse: a weight per vocabulary term; dense: the embedding)."""
        rows = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(list(texts[start:start + batch_size]))
            feed = {"input_ids": np.zeros((len(encodings), max(len(e.ids) for e in encodings)), np.int64)}
            feed["attention_mask"] = np.zeros_like(feed["input_ids"])
            for row, encoding in enumerate(encodings):  # padded on the right; the mask hides the padding from the graph
                feed["input_ids"][row, :len(encoding.ids)] = encoding.ids
                feed["attention_mask"][row, :len(encoding.ids)] = 1
            rows.append(self.session.run(None, feed)[0])
        if not rows:
            return np.zeros((0, self.session.get_outputs()[0].shape[-1]), np.float32)
        return np.concatenate(rows).astype(np.float32, copy=False)

    def run_one(self, text: str) -> np.ndarray:
        """The vector of one text."""
        return self.run([text])[0]


class OnnxSparseQueryEncoder:
    """Encode queries as {token: weight} through an exported SPLADE model (the siamese query side)."""

    def __init__(self, path: str | os.PathLike, max_length: int | None = None):
        self.encoder = OnnxEncoder(path, max_length)
        if self.encoder.kind != "sparse":
            raise LsrError(f"{path}: a {self.encoder.kind} export, not a sparse one")
        vocab = self.encoder.tokenizer.get_vocab()
        self.terms = [""] * len(vocab)
        for token, index in vocab.items():
            self.terms[index] = token

    def encode(self, query: str) -> dict[str, float]:
        """The query's non-zero token weights."""
        return self.encode_batch([query])[0]

    def encode_batch(self, queries: Iterable[str]) -> list[dict[str, float]]:
        """Non-zero token weights of each query (torch is not imported: ONNX query paths run without it)."""
        return [{self.terms[j]: float(row[j]) for j in np.flatnonzero(row)} for row in self.encoder.run(list(queries))]
