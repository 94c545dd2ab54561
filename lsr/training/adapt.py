"""``lsr adapt``: adapt an inference-free model to a corpus that has no queries and no judgements.

No query generator runs offline, so the training queries come from the corpus itself, in the
manner of the inverse cloze task (Lee et al. 2019, "Latent Retrieval for Weakly Supervised Open
Domain QA"; AugTriever, arXiv 2212.08841): a document's title, or a span of one of its sentences, is a
query whose pseudo-positive is the document *without* that title or sentence, so that BM25 alone
cannot find it by the query's own words. The labels that
matter come from teachers that need no training data (the recipe's ensemble: dense, sparse and
BM25 over BM25's candidates), as in GPL (Wang et al. 2022) without its generator. Then the
model is fine-tuned with lsr's own training (resumable); with the recipe's ``patience``, the model
kept is the one that reranks held-out pseudo-queries best, the starting model included, so that a
corpus the fine-tuning does not help keeps the model it started from. The corpus is indexed with
its own IDF table and BM25 channel. Everything lives under ``<out>/adapt/<corpus>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from lsr.atomic import atomic_file
from lsr.data import Dataset, Document
from lsr.errors import LsrError

MIN_DOCUMENTS = 20          # fewer documents give too few queries and candidates to learn from
SPLIT = "train"             # the pseudo-queries' qrels split
SOURCE = "source.json"      # in the pseudo-query dataset: the corpus checksum, query count and seed it was made from
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def pseudo_queries(docs: list[Document], max_queries: int, seed: int, min_words: int = 3,
                   max_words: int = 16) -> dict[str, tuple[str, Document]]:
    """``{query id: (query text, its source document without that text)}``, as in the inverse cloze task.

    A document's title is its query where it has one and other text (the document keeps its text);
    else a span of ``min_words``-``max_words`` words from one of its sentences, and the sentence is
    cut from the document, so that the query must be found from its context rather than by
    matching itself. At most one query per document, from at most ``max_queries`` documents drawn
    at random; a document of one sentence and no title gives none.
    """
    rng = np.random.default_rng(seed)
    queries = {}
    for index in rng.permutation(len(docs)):
        if len(queries) >= max_queries:
            break
        doc = docs[int(index)]
        if len(doc.title.split()) >= min_words and doc.text.strip():
            text, context = doc.title, Document(doc.id, "", doc.text)
        else:
            sentences = SENTENCE.split(doc.text or doc.title)
            usable = [i for i, sentence in enumerate(sentences) if len(sentence.split()) >= min_words]
            if not usable or len(sentences) < 2:
                continue
            chosen = usable[int(rng.integers(len(usable)))]
            words = sentences[chosen].split()
            length = int(rng.integers(min_words, min(max_words, len(words)) + 1))
            start = int(rng.integers(len(words) - length + 1))
            text = " ".join(words[start:start + length])
            rest = " ".join(sentences[:chosen] + sentences[chosen + 1:])
            context = Document(doc.id, doc.title if doc.text else "", rest)
        queries[f"pq{len(queries)}"] = (text, context)
    return queries


def write_pseudo_dataset(dataset: Dataset, folder: Path, max_queries: int, seed: int) -> Dataset:
    """A BEIR-layout dataset in ``folder``: the pseudo-queries, their qrels, and ``dataset``'s corpus in which
    each query's source document is replaced by its context (:func:`pseudo_queries`).

    Kept when it exists (an interrupted run resumes on the same queries), if it was made from the same corpus
    (checksum), ``max_queries`` and ``seed`` (its :data:`SOURCE`); made from others, it is an LsrError naming them."""
    from lsr.data import load_dataset
    from lsr.training.train import changed_settings

    source = {"corpus_sha256": dataset.corpus_sha256, "max_queries": max_queries, "seed": seed}
    if (folder / "qrels" / f"{SPLIT}.tsv").is_file():
        try:
            before = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = {}
        changed = changed_settings(before if isinstance(before, dict) else {}, source)
        if changed:
            raise LsrError(f"{folder.parent} was adapted from another corpus or with other settings ({'; '.join(changed)}): remove "
                           f"{folder.parent} to adapt again, or give another --out-dir")
    else:
        docs = [d for d in dataset.corpus() if d.contents]
        if len(docs) < MIN_DOCUMENTS:
            raise LsrError(f"{dataset.corpus_path}: {len(docs)} document(s) with text; adapting needs at least {MIN_DOCUMENTS}")
        queries = pseudo_queries(docs, max_queries, seed)
        if len(queries) < MIN_DOCUMENTS:
            raise LsrError(f"{dataset.corpus_path}: only {len(queries)} pseudo-queries could be made (documents need a title or "
                           f"two sentences, one of 3+ words); adapting needs at least {MIN_DOCUMENTS}")
        contexts = {context.id: context for _, context in queries.values()}
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        with atomic_file(folder / SOURCE) as tmp:  # before the qrels, whose presence marks the dataset complete
            tmp.write_text(json.dumps(source), encoding="utf-8")
        with atomic_file(folder / "corpus.jsonl") as tmp:
            tmp.write_text("".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n"
                                   for d in (contexts.get(doc.id, doc) for doc in docs)), encoding="utf-8")
        with atomic_file(folder / "queries.jsonl") as tmp:
            tmp.write_text("".join(json.dumps({"_id": q, "text": text}) + "\n" for q, (text, _) in queries.items()), encoding="utf-8")
        with atomic_file(folder / "qrels" / f"{SPLIT}.tsv") as tmp:
            tmp.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{c.id}\t1\n" for q, (_, c) in queries.items()), encoding="utf-8")
    return load_dataset(str(folder))


def finished_adaptation(model: Path, recipe) -> dict | None:
    """The training summary of the model already adapted in ``model`` with ``recipe``'s settings, or None when there is none.

    A model adapted with other settings (another backbone, other steps) is an LsrError naming them: it is neither reused
    for these settings nor replaced.
    """
    from dataclasses import asdict

    from lsr.training.train import changed_settings

    log_file = model / "training_log.json"
    if not log_file.is_file():
        return None
    summary = json.loads(log_file.read_text(encoding="utf-8"))
    changed = changed_settings(summary.get("recipe", {}), asdict(recipe), ignore=("dataset",))
    if changed:
        raise LsrError(f"{model} was adapted with other settings ({'; '.join(changed)}): remove {model.parent} to adapt it again "
                       "with these, or give another --out-dir")
    return summary


def adapt(dataset: Dataset, recipe, out_dir: Path, max_queries: int = 2000, resume: bool = True, threads: int = 2,
          progress: bool = True, index_recipe=None) -> dict:
    """Pseudo-queries -> teacher labels -> fine-tuned model -> index of ``dataset``; returns a summary.

    ``recipe`` is a :class:`~lsr.training.recipe.TrainRecipe` (its ``dataset`` and ``split`` are replaced);
    the model goes to ``<out_dir>/adapt/<corpus>/model``, the index to ``<out_dir>/adapt/<corpus>/index``.
    ``index_recipe``: an :class:`~lsr.index.recipe.IndexRecipe` whose settings (pruning, search defaults)
    the index takes, with the adapted model as its encoder, the corpus IDF as its queries and the
    recipe's document length and BM25 channel weight (the `lsr adapt` command passes lsr's default,
    ``indexing/inference-free-bm25.yaml``); none: no pruning and no search defaults.
    """
    from lsr.eval.evaluate import ensure_index
    from lsr.index.recipe import IndexRecipe
    from lsr.training.train import train

    folder = out_dir / "adapt" / dataset.name
    pseudo = write_pseudo_dataset(dataset, folder / f"{dataset.name}-pseudo-queries", max_queries, recipe.seed)
    recipe = replace(recipe, dataset=str(pseudo.root), split=SPLIT)
    model = folder / "model"
    summary = finished_adaptation(model, recipe)
    if summary is None:
        summary = train(recipe, model, out_dir=folder, resume=resume, threads=threads, progress=progress)
    index_recipe = replace(index_recipe or IndexRecipe(name="adapted"), name=f"{dataset.name}-adapted", encoder=str(model), query_encoder="idf",
                           doc_max_length=recipe.doc_max_length, lexical_weight=recipe.lexical_weight)
    index = ensure_index(index_recipe, dataset, folder, threads, progress, output=folder / "index")
    return {"queries": len(pseudo.queries(SPLIT)), "model": str(model), "index": str(index), "steps": summary["steps"],
            "kept_step": summary.get("kept_step", summary["steps"]), "minutes": summary["minutes"],
            "validation_retrieval": summary["validation_retrieval"]}
