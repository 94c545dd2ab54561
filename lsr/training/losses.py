"""Regularisers and losses that sentence-transformers' sparse training lacks, built on its classes.

sentence-transformers already has what the rest of training needs: ``SpladeLoss`` (a ranking loss
plus document/query regularisers), ``FlopsLoss(threshold)`` (FLOPS with the l0 mask),
``SparseDistillKLDivLoss`` (KL to teacher scores, temperature), ``SparseMarginMSELoss``,
``SparseMultipleNegativesRankingLoss`` (InfoNCE with in-batch and hard negatives), the
``log1p_relu`` SPLADE activation (the l0 activation ``log(1 + log(1 + ReLU))``) and a quadratic
warm-up of regulariser weights (``SpladeRegularizerWeightSchedulerCallback``). What it lacks is a
FLOPS that knows how the query side weights terms (:class:`TermWeightedFlopsLoss`) and distillation
of a student that is searched together with BM25 (:class:`LexicalPriorKLDivLoss`).
For dense query-encoder tuning, :class:`CorpusSoftmaxLoss` scores queries against a whole corpus
of fixed document vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from sentence_transformers.sparse_encoder.losses import FlopsLoss, SparseDistillKLDivLoss


class TermWeightedFlopsLoss(FlopsLoss):
    """FLOPS over term-weighted activations: ``sum_j (mean_i |t_j * w_ij|)^2``.

    An inference-free model scores ``s(q, d) = sum_{t in q} idf_t * w_d(t)``. Plain FLOPS on the
    raw document weights ``w`` (``term_weights=None``) is then *IDF-aware*: for the same score
    contribution a low-IDF term needs a larger ``w``, so its penalty per unit of relevance grows as
    ``1 / idf_t^2`` and common terms are pushed out of documents. With ``term_weights=idf`` the
    penalty is taken on the effective vector ``idf * w`` instead, treating all terms alike (the
    ablation's "plain FLOPS"). ``threshold`` keeps sentence-transformers' l0 mask: only documents
    with more than ``threshold`` active terms are penalised (counted on the raw weights).
    """

    def __init__(self, model, threshold: float | None = None, term_weights: torch.Tensor | None = None):
        super().__init__(model, threshold=threshold)
        self.register_buffer("term_weights", None if term_weights is None else term_weights.detach().float())

    def compute_loss_from_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The regulariser's value for a batch of document embeddings (batch x vocabulary)."""
        weights = embeddings.abs()
        if self.threshold is not None:
            weights = weights * ((embeddings != 0).sum(dim=1) > self.threshold).float().unsqueeze(1)
        if self.term_weights is not None:
            weights = weights * self.term_weights.to(weights.device)
        return torch.sum(torch.mean(weights, dim=0) ** 2)

    def get_config_dict(self) -> dict:
        return {"threshold": self.threshold, "term_weighted": self.term_weights is not None}


class LexicalPriorKLDivLoss(SparseDistillKLDivLoss):
    """KL distillation (Hinton et al. 2015; ensemble targets as in OpenSearch's inference-free
    models) of a student whose ranking score adds a fixed lexical prior: ``s(q, d) = q . d + weight * bm25(q, d)``.

    An index with a BM25 channel (:mod:`lsr.encoders.lexical`) scores exactly that, so the student
    learns the residual that BM25 misses instead of relearning BM25. ``labels`` hold, per row, the
    N teacher targets and then the N BM25 scores of the same candidates (shape ``(batch, 2N)``).
    """

    def __init__(self, model, weight: float, temperature: float = 1.0):
        super().__init__(model, temperature=temperature)
        self.weight = weight

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """KL(softmax(teacher / T) || log_softmax(student + weight x prior) / T), times T^2."""
        n = len(embeddings) - 1
        targets, prior = labels[:, :n], labels[:, n:]
        student = torch.stack([self.similarity_fct(embeddings[0], other) for other in embeddings[1:]], dim=1) + self.weight * prior
        log_probs = torch.log_softmax(student / self.student_temperature, dim=1)
        teacher = torch.softmax(targets.detach() / self.teacher_temperature, dim=1)
        return self.loss_fct(log_probs, teacher) * self.student_temperature ** 2

    def get_config_dict(self) -> dict:
        return {**super().get_config_dict(), "lexical_weight": self.weight}


class CorpusSoftmaxLoss(torch.nn.Module):
    """Cross-entropy of each query against every document's fixed vector: ``-log softmax(scale * q . D)``
    at the row's positive (``labels``: its row in ``documents``). Only the query encoder learns; a
    sentence-transformers loss (``forward(sentence_features, labels)``) for rows (anchor, label)."""

    def __init__(self, model, documents: np.ndarray, scale: float = 20.0):
        super().__init__()
        self.model = model
        self.scale = scale
        self.register_buffer("documents", torch.from_numpy(np.array(documents, dtype=np.float32)), persistent=False)

    def forward(self, sentence_features, labels: torch.Tensor) -> torch.Tensor:
        queries = self.model(sentence_features[0])["sentence_embedding"]
        return torch.nn.functional.cross_entropy(self.scale * queries @ self.documents.T, labels)
