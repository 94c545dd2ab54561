"""A static-embedding query encoder in a dense model's space, so that a dense or hybrid search runs no transformer at query time.

A query's vector is the normalised mean of its tokens' vectors (sentence-transformers' ``StaticEmbedding`` +
``Normalize``), searched against the document vectors that the dense backbone made at index time. The token vectors are
made in two steps, then tuned on train queries (``tune: static`` in a dense training recipe, :mod:`lsr.training.dense`):

1. **Distillation** (Model2Vec, Tulkens & van Dongen 2024, "Model2Vec: Distill a Small Fast Model from any Sentence
   Transformer"): each vocabulary token alone through the backbone (``[CLS] token [SEP]``, mean-pooled). Model2Vec's
   PCA and Zipf weighting are left out so that the vectors stay in the backbone's space, and its ``distill`` is not
   used because it pins an older transformers.
2. **Text regression** (as minishlab's tokenlearn): on the corpus's titles and sentences, the mean of a text's token
   vectors is trained to point where the backbone embeds that text (sentence-transformers' ``MSELoss`` between unit
   vectors, that is cosine; Reimers & Gurevych 2020, "Making Monolingual Sentence Embeddings Multilingual using
   Knowledge Distillation"). The corpus alone is read: no queries, no judgements.
"""

from __future__ import annotations

import logging

import numpy as np

from lsr.data import Dataset
from lsr.errors import LsrError

log = logging.getLogger(__name__)

MIN_WORDS = 4  # a corpus sentence shorter than this is not distilled
CHUNK = 1024   # texts the backbone encodes per progress step


def token_vectors(backbone, batch_size: int = 1024, progress: bool = True) -> np.ndarray:
    """``(vocabulary size, dimension)`` float32: each token id alone through ``backbone``'s transformer
    (``[CLS] id [SEP]``), its last hidden states averaged, as Model2Vec distils."""
    import torch
    from tqdm.auto import tqdm

    tokenizer, transformer = backbone.tokenizer, backbone[0].auto_model
    ids = torch.arange(len(tokenizer))[:, None]
    vectors = []
    with torch.no_grad():
        for start in tqdm(range(0, len(ids), batch_size), desc="token vectors", unit="batch", disable=not progress):
            chunk = ids[start:start + batch_size]
            inputs = torch.cat([torch.full_like(chunk, tokenizer.cls_token_id), chunk, torch.full_like(chunk, tokenizer.sep_token_id)], 1)
            vectors.append(transformer(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state.mean(1).float().numpy())
    return np.concatenate(vectors)


def corpus_texts(dataset: Dataset, count: int, seed: int) -> list[str]:
    """Up to ``count`` of the corpus's titles and sentences of at least :data:`MIN_WORDS` words, drawn at random (``seed``)."""
    from lsr.training.adapt import SENTENCE

    texts = []
    for doc in dataset.corpus():
        if len(doc.title.split()) >= MIN_WORDS:
            texts.append(doc.title)
        texts.extend(s for s in SENTENCE.split(doc.text) if len(s.split()) >= MIN_WORDS)
    if not texts:
        raise LsrError(f"{dataset.corpus_path}: no title or sentence of {MIN_WORDS}+ words to distil a static query encoder from")
    order = np.random.default_rng(seed).permutation(len(texts))[:count]
    return [texts[i] for i in order]


def static_encoder(backbone, dataset: Dataset, texts: int, epochs: int, learning_rate: float, seed: int, output_dir: str,
                   batch_size: int = 256, progress: bool = True):
    """A SentenceTransformer (``StaticEmbedding`` + ``Normalize``) whose text vectors approximate ``backbone``'s: its token
    vectors distilled from ``backbone`` (:func:`token_vectors`), then regressed on ``texts`` of ``dataset``'s titles and
    sentences for ``epochs`` (checkpoints under ``output_dir``, removed by the caller)."""
    import torch
    from datasets import Dataset as HFDataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MSELoss
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tqdm.auto import tqdm

    from lsr.encoders.dense import encode
    from lsr.training.train import silenced

    model = SentenceTransformer(modules=[StaticEmbedding(backbone.tokenizer, embedding_weights=token_vectors(backbone, progress=progress)),
                                         Normalize()], device="cpu")
    sample = corpus_texts(dataset, texts, seed)
    log.info("static query encoder: regressing %d titles and sentences of %s onto the backbone's vectors", len(sample), dataset.name)
    chunks = tqdm(range(0, len(sample), CHUNK), desc="backbone vectors", unit="chunk", disable=not progress)
    targets = np.concatenate([encode(backbone, sample[start:start + CHUNK], "document", batch_size=64) for start in chunks])
    rows = HFDataset.from_dict({"text": sample, "label": targets.tolist()})
    args = SentenceTransformerTrainingArguments(
        output_dir=output_dir, num_train_epochs=epochs, per_device_train_batch_size=batch_size, learning_rate=learning_rate,
        seed=seed, data_seed=seed, logging_steps=20, save_strategy="no", report_to="none", disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available())
    trainer = silenced(lambda: SentenceTransformerTrainer(model=model, args=args, train_dataset=rows, loss=MSELoss(model)), progress)
    trainer.train()
    return model
