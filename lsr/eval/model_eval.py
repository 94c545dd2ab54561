"""Evaluate a sparse encoder without building a Lucene index (no Java needed: GPU boxes, quick checks).

Documents are encoded, quantised exactly as the Lucene impact path quantises them, and searched by
scipy dot products (:class:`~lsr.search.exact.ExactSearcher`); the tests show that Lucene returns
the same rankings, so these numbers are the ones ``lsr evaluate`` gets through an index.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from lsr.data import Dataset
from lsr.errors import LsrError
from lsr.eval.metrics import METRICS, evaluate
from lsr.recipe_files import Number

LEXICAL_WEIGHT = Number(low=0)


def evaluate_model(model_name: str, dataset: Dataset, split: str = "test", doc_max_length: int = 256, query_max_length: int = 64,
                   doc_scale: float = 100.0, query_scale: float = 100.0, batch_size: int = 64, k: int = 1000,
                   ignore_identical_ids: bool = True, query_ids: list[str] | None = None, lexical_weight: float = 0.0,
                   progress: bool = True) -> dict:
    """nDCG@10 / R@100 / MRR@10, active terms per document and query, and FLOPS of ``model_name`` on ``split``.

    ``query_ids``: only these queries of the split (e.g. the train queries a model held out for validation).
    ``lexical_weight`` > 0: with a BM25 channel of that weight, as an index recipe's ``lexical_weight`` adds.
    """
    from lsr.encoders.sparse import ModelQueryEncoder, encode, load_sparse_encoder, query_table, vocabulary
    from lsr.encoders.table import TableQueryEncoder
    from lsr.index.build import ENCODE_CHUNK
    from lsr.index.pruning import quantise
    from lsr.search.exact import ExactSearcher

    if not LEXICAL_WEIGHT.allows(lexical_weight):
        raise LsrError(f"lexical_weight (--lexical-weight) must be {LEXICAL_WEIGHT.describe()}, got {lexical_weight!r}")
    docs = [d for d in dataset.corpus() if d.contents]
    if not docs:
        raise LsrError(f"{dataset.corpus_path}: no document has any text (title or body), so there is nothing to search; "
                       "give a corpus with documents")
    model = load_sparse_encoder(model_name, document_length=doc_max_length, query_length=query_max_length, device=None)
    parts = []
    for start in tqdm(range(0, len(docs), ENCODE_CHUNK), desc="encode", unit="chunk", disable=not progress):
        texts = [d.contents for d in docs[start:start + ENCODE_CHUNK]]
        parts.append(quantise(encode(model, texts, task="document", batch_size=batch_size), doc_scale))
    matrix = sp.vstack(parts).tocsr().astype(np.float64)
    terms = vocabulary(model)
    table = query_table(model)
    if table is None:
        encoder = ModelQueryEncoder(model)
    else:
        static = next(m for m in model.modules() if type(m).__name__ == "SparseStaticEmbedding")
        tokenizer = static.tokenizer.backend_tokenizer
        tokenizer.no_padding()
        tokenizer.no_truncation()
        encoder = TableQueryEncoder(tokenizer, table)
    if lexical_weight:
        matrix, terms, encoder = _with_lexical_channel(matrix, terms, encoder, [d.contents for d in docs], lexical_weight, doc_scale, progress)
    searcher = ExactSearcher([d.id for d in docs], matrix, {t: i for i, t in enumerate(terms)}, encoder, query_scale)
    queries = dataset.queries(split)
    if query_ids is not None:
        missing = sorted(set(query_ids) - set(queries))
        if missing:
            raise LsrError(f"{len(missing)} query id(s) not in {dataset.name} {split}, e.g. {missing[0]!r}")
        queries = {q: queries[q] for q in query_ids}
    run = {q: {h.docid: h.score for h in searcher.search(text, k)}
           for q, text in tqdm(queries.items(), desc="search", unit="q", disable=not progress)}
    qrels = dataset.qrels(split)
    scores = evaluate(run, {q: qrels[q] for q in queries if q in qrels}, ignore_identical_ids=ignore_identical_ids)
    return {**{m: round(scores[m], 4) for m in METRICS}, **searcher.sparsity(list(queries.values()))}


def held_out_queries(model: str) -> tuple[str, list[str]]:
    """The split ``lsr train`` trained ``model`` on and the ids of the queries it held out for validation (its ``training_log.json``)."""
    log = Path(model) / "training_log.json"
    summary = json.loads(log.read_text(encoding="utf-8")) if log.is_file() else {}
    if "validation_query_ids" not in summary:
        raise LsrError(f"{log}: no validation_query_ids (not a model trained by this version of lsr train)")
    return summary["recipe"]["split"], summary["validation_query_ids"]


def _with_lexical_channel(matrix: sp.csr_matrix, terms: list[str], encoder, texts: list[str], weight: float, doc_scale: float,
                          progress: bool):
    """The document matrix, its terms and the query encoder with a BM25 channel of ``weight`` added."""
    from lsr.encoders.lexical import LexicalChannel, LexicalQueryEncoder
    from lsr.index.pruning import quantise_weights

    channel = LexicalChannel(texts, weight=weight, progress=progress)
    extra: dict[str, int] = {}
    rows, cols, values = [], [], []
    for row in range(len(texts)):
        for term, impact in quantise_weights(channel.document(row), doc_scale).items():
            rows.append(row)
            cols.append(extra.setdefault(term, len(extra)))
            values.append(impact)
    lexical = sp.csr_matrix((np.asarray(values, dtype=np.float64), (rows, cols)), shape=(len(texts), len(extra)))
    return sp.hstack([matrix, lexical]).tocsr(), [*terms, *extra], LexicalQueryEncoder(encoder, channel.idf_table())
