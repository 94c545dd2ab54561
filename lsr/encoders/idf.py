"""Corpus IDF over WordPiece tokens, the query-side table of zero-shot inference-free retrieval.

``idf_t = log(1 + (N - df_t + 0.5) / (df_t + 0.5))`` (Lucene's BM25 idf), where ``df_t`` counts
the documents whose contents contain token ``t``. Every vocabulary token except the special ones
gets a weight (unseen tokens the largest), so the table also serves other corpora.
"""

from __future__ import annotations

import math
import os
from typing import Iterable

import numpy as np
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from lsr.data import load_corpus
from lsr.encoders.table import model_tokenizer, write_weights
from lsr.errors import LsrError


def bm25_idf(df: np.ndarray, num_docs: int) -> np.ndarray:
    """Lucene's BM25 idf for document frequencies ``df`` in a corpus of ``num_docs``."""
    return np.log1p((num_docs - df + 0.5) / (df + 0.5))


def corpus_idf(texts: Iterable[str], tokenizer: Tokenizer, batch_size: int = 1024, progress: bool = True) -> dict[str, float]:
    """IDF of every non-special vocabulary token over ``texts``."""
    vocab_size = tokenizer.get_vocab_size()
    df = np.zeros(vocab_size, dtype=np.int64)
    num_docs = 0
    batch: list[str] = []

    def count(batch: list[str]) -> None:
        for encoding in tokenizer.encode_batch(batch, add_special_tokens=False):
            df[np.unique(np.asarray(encoding.ids, dtype=np.int64))] += 1

    for text in tqdm(texts, desc="idf", unit="doc", disable=not progress):
        batch.append(text)
        num_docs += 1
        if len(batch) == batch_size:
            count(batch)
            batch = []
    if batch:
        count(batch)
    if num_docs == 0:
        raise LsrError("the corpus has no documents: there is nothing to take an IDF table from")
    idf = bm25_idf(df, num_docs)
    special = set(_special_tokens(tokenizer))
    vocab = tokenizer.get_vocab()
    return {token: float(idf[i]) for token, i in sorted(vocab.items(), key=lambda kv: kv[1]) if token not in special and math.isfinite(idf[i])}


def write_corpus_idf(corpus: str, output: str | os.PathLike, tokenizer: str = "splade-tiny", data_dir: str | os.PathLike | None = None,
                     progress: bool = True) -> int:
    """Write the IDF table of ``corpus`` (a ``corpus.jsonl``, BEIR folder or dataset name) over ``tokenizer``'s tokens to ``output``;
    returns the number of tokens."""
    table = corpus_idf((d.contents for d in load_corpus(corpus, data_dir).corpus()), model_tokenizer(tokenizer), progress=progress)
    write_weights(table, output)
    return len(table)


def _special_tokens(tokenizer: Tokenizer) -> list[str]:
    return [token.content for token in tokenizer.get_added_tokens_decoder().values() if token.special]
