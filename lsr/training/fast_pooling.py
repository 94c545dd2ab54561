"""SPLADE max pooling for training without materialising ``batch x length x vocabulary`` logits.

sentence-transformers computes the MLM logits of every token (96 documents x 256 tokens x 30,522
terms is 3 GB in fp32) and walks them several times forwards and backwards; on a CPU a training
step of the default recipe takes about 95 s. Since ``log(1 + ReLU(x))`` is monotonic, SPLADE max
pooling only needs, per document and term, the largest raw logit over the real tokens, and its
gradient reaches one token per term. :class:`MaxLogits` computes that maximum document by document
and back-propagates through the argmax alone (sparse matrix products), giving the same values and
gradients as the full computation.

:class:`FastSpladeTraining` patches a SparseEncoder for the length of a ``with`` block: the MLM
decoder's forward becomes an identity (the transformer then emits transformed hidden states) and each SPLADE
pooling applies the decoder through :class:`MaxLogits`. Leaving the block restores the model, so
what is saved is a plain sentence-transformers model.
"""

from __future__ import annotations

import types
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class MaxLogits(torch.autograd.Function):
    """``max_t (hidden[b, t] @ weight.T + bias)`` over the unmasked tokens of each row ``b``, with a sparse backward."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        batch, length, _ = hidden.shape
        values = torch.empty(batch, weight.shape[0], dtype=hidden.dtype, device=hidden.device)
        positions = torch.empty(batch, weight.shape[0], dtype=torch.long, device=hidden.device)
        for row in range(batch):
            real = mask[row].nonzero().squeeze(1)
            # vocabulary x tokens: the max runs along contiguous memory (faster than tokens x vocabulary)
            best, index = torch.addmm(bias[:, None], weight, hidden[row, real].t()).max(dim=1)
            values[row] = best
            positions[row] = real[index]
        ctx.save_for_backward(hidden, weight, positions)
        return values

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        hidden, weight, positions = ctx.saved_tensors
        batch, length, _ = hidden.shape
        vocab = torch.arange(weight.shape[0], device=hidden.device)
        grad_hidden = torch.zeros_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight) if ctx.needs_input_grad[2] else None
        for row in range(batch):
            # one non-zero per term: d values[row, v] / d (token positions[row, v]) = weight[v]
            # valid by construction (argmax positions < length, one entry per vocabulary id): no invariant check
            picks = torch.sparse_coo_tensor(torch.stack([positions[row], vocab]), grad[row], (length, weight.shape[0]), check_invariants=False)
            if grad_hidden is not None:
                grad_hidden[row] = torch.sparse.mm(picks, weight)
            if grad_weight is not None:
                grad_weight += torch.sparse.mm(picks.t().coalesce(), hidden[row])
        grad_bias = grad.sum(dim=0) if ctx.needs_input_grad[3] else None
        return grad_hidden, None, grad_weight, grad_bias


def _pooling_forward(pooling, features: dict, decoder: nn.Linear) -> dict:
    hidden = features["token_embeddings"]  # transformed hidden states while the decoder is patched out
    pooled = MaxLogits.apply(hidden, features["attention_mask"].bool(), decoder.weight, decoder.bias)
    pooled = torch.log1p(torch.relu(pooled))
    if pooling.activation_function == "log1p_relu":
        pooled = torch.log1p(pooled)
    features["sentence_embedding"] = pooled
    return features


class FastSpladeTraining:
    """Patch ``model`` so that its SPLADE poolings go through :class:`MaxLogits` (see module docstring).

    Use as ``with FastSpladeTraining(model) as patch:``; ``with patch.paused():`` restores the plain
    model for a while (validation, saving). Leaving the outer block restores it for good.
    """

    def __init__(self, model):
        from sentence_transformers.sparse_encoder.modules import SpladePooling

        from lsr.encoders.sparse import splade_parts

        parts = splade_parts(model)
        if parts is None:
            raise ValueError("fast SPLADE training needs a BERT-style MLM with SPLADE max pooling")
        self.decoder = parts[0].auto_model.cls.predictions.decoder
        self.poolings = [m for m in model.modules() if isinstance(m, SpladePooling)]

    def __enter__(self) -> "FastSpladeTraining":
        decoder = self.decoder
        # the decoder stays registered (its weights stay in the state dict, so checkpoints saved and
        # resumed while patched are the plain model's); only its forward becomes the identity
        decoder.forward = types.MethodType(lambda self, hidden: hidden, decoder)
        for pooling in self.poolings:
            pooling.forward = types.MethodType(lambda self, features, **kwargs: _pooling_forward(self, features, decoder), pooling)
        return self

    def __exit__(self, *exc) -> None:
        del self.decoder.forward
        for pooling in self.poolings:
            del pooling.forward

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The plain model inside the block, the patched one again after it."""
        self.__exit__()
        try:
            yield
        finally:
            self.__enter__()
