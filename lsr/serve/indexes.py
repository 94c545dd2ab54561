"""The indexes a service serves: each opened once, with its documents and, for sparse indexes, what explains a hit."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from lsr.errors import LsrError
from lsr.index.manifest import SPARSE_KINDS
from lsr.search import LuceneSearcher, Searcher
from lsr.search.explain import TermMatch
from lsr.search.searcher import open_manifest
from lsr.serve.documents import Documents

log = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class ServedIndex:
    """One index of the service: its searcher, manifest and documents; ``explainer`` is the sparse searcher whose terms explain
    a hit (the index's own, a hybrid's sparse component, or None for a dense index)."""

    name: str
    path: Path
    manifest: dict
    searcher: Searcher
    documents: Documents
    explainer: LuceneSearcher | None = None
    tokenizer: object | None = None  # the explainer's WordPiece tokenizer: a learned term not among a document's own tokens is an expansion
    _tokens: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def info(self) -> dict:
        """What ``GET /indexes`` says of it."""
        recipe = self.manifest.get("recipe") or {}
        return {"name": self.name, "kind": self.manifest["kind"], "model": _model(self.manifest), "documents": self.manifest["num_docs"],
                "size_bytes": self.manifest.get("index_bytes"), "dataset": self.manifest.get("dataset"), "settings": recipe,
                "explains": self.explainer is not None, "texts": bool(self.documents.texts), "note": self.documents.note}

    def explain(self, query: str, docids: list[str]) -> dict[str, list[dict]] | None:
        """Each document's matching terms as JSON-ready dicts, expansion terms marked; None for an index that cannot explain."""
        if self.explainer is None:
            return None
        return {docid: [self._term(match, docid) for match in matches] for docid, matches in self.explainer.explain(query, docids).items()}

    def _term(self, match: TermMatch, docid: str) -> dict:
        expansion = None
        if self.tokenizer is not None and not match.lexical:
            tokens = self._document_tokens(docid)
            expansion = None if tokens is None else match.term not in tokens
        return {"term": match.term, "query_weight": match.query_weight, "document_weight": match.document_weight,
                "contribution": match.contribution, "lexical": match.lexical, "expansion": expansion}

    def _document_tokens(self, docid: str) -> frozenset[str] | None:
        """The document's own WordPiece tokens (None when its text is not known); kept for the documents asked about."""
        if docid not in self._tokens:
            contents = self.documents.contents(docid)
            if contents is None:
                return None
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[docid] = frozenset(self.tokenizer.encode(contents, add_special_tokens=False).tokens)
        return self._tokens[docid]

    def close(self) -> None:
        """Close its searcher."""
        self.searcher.close()


def parse_index_arguments(arguments: Iterable[str]) -> dict[str, Path]:
    """``INDEX`` or ``NAME=INDEX`` command-line arguments as {name: folder}; a folder's name is its default name."""
    indexes: dict[str, Path] = {}
    for argument in arguments:
        name, _, path = argument.partition("=") if "=" in argument and not Path(argument).exists() else ("", "", argument)
        path = Path(path)
        name = name or path.absolute().name
        if not NAME.match(name):
            raise LsrError(f"index name {name!r} (from {argument!r}): use letters, digits, '.', '_' and '-' (NAME=INDEX names one)")
        if name in indexes:
            raise LsrError(f"two indexes are named {name!r} ({indexes[name]} and {path}): name them, e.g. {name}-2={path}")
        indexes[name] = path
    if not indexes:
        raise LsrError("give at least one index folder to serve")
    return indexes


def open_indexes(indexes: Mapping[str, str | os.PathLike]) -> dict[str, ServedIndex]:
    """Open every index of {name: folder}; an LsrError naming the first that cannot be opened (those opened are closed)."""
    served: dict[str, ServedIndex] = {}
    try:
        for name, path in indexes.items():
            if not NAME.match(name):
                raise LsrError(f"index name {name!r}: use letters, digits, '.', '_' and '-'")
            served[name] = _open(name, Path(path))
            log.info("serving %s: %s index of %d documents (%s)", name, served[name].manifest["kind"], served[name].manifest["num_docs"], path)
    except BaseException:
        for index in served.values():
            index.close()
        raise
    return served


def _open(name: str, path: Path) -> ServedIndex:
    manifest = open_manifest(path)
    searcher = Searcher.open(path)
    explainer, explained = _explainer(searcher, manifest, path)
    return ServedIndex(name, path, manifest, searcher, Documents.of_corpus(explained.get("corpus") or manifest.get("corpus")), explainer,
                       _tokenizer(explainer, explained))


def _explainer(searcher: Searcher, manifest: dict, path: Path) -> tuple[LuceneSearcher | None, dict]:
    """The sparse searcher that explains the index's hits, and its manifest."""
    if manifest["kind"] in SPARSE_KINDS:
        return searcher, manifest
    sparse = getattr(searcher, "sparse", None)  # a hybrid's first sparse list
    if isinstance(sparse, LuceneSearcher):
        return sparse, sparse.manifest
    return None, manifest


def _tokenizer(explainer: LuceneSearcher | None, manifest: dict):
    """The WordPiece tokenizer of an impact index's terms (its query table's, or its query model's), or None."""
    if explainer is None or manifest["kind"] != "impact":
        return None
    from lsr.encoders.table import load_tokenizer

    query = manifest["query"]
    source = explainer.index_dir / query["tokenizer"] if query.get("tokenizer") else Path(query.get("model", ""))
    try:
        return load_tokenizer(source)
    except LsrError:
        log.warning("%s: no tokenizer at %s, so expansion terms are not marked", explainer.index_dir, source)
        return None


def _model(manifest: dict) -> str | None:
    recipe = manifest.get("recipe") or {}
    if manifest["kind"] == "hybrid":
        return " + ".join(str(part) for part in (manifest.get("sparse"), *manifest.get("more_sparse", []), manifest.get("dense")) if part)
    if manifest["kind"] == "bm25":
        return "BM25"
    return recipe.get("encoder") or recipe.get("model")
