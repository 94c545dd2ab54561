"""The titles and texts that the service shows, read from the corpus an index's manifest records."""

from __future__ import annotations

import logging
from pathlib import Path

from lsr.data import Dataset, Document, file_sha256
from lsr.errors import LsrError

log = logging.getLogger(__name__)

SNIPPET_CHARS = 320


class Documents:
    """An index's documents by id; ``note`` says why there are none (or why they may differ from what was indexed)."""

    def __init__(self, texts: dict[str, Document], note: str | None = None):
        self.texts = texts
        self.note = note

    @classmethod
    def of_corpus(cls, corpus: dict | None) -> "Documents":
        """The documents of a manifest's ``corpus`` section ({path, sha256}); none, with a note, when the file is gone or unreadable."""
        if not corpus or not corpus.get("path"):
            return cls({}, "the index does not record its corpus: hits show ids only")
        path = Path(corpus["path"])
        if not path.is_file():
            return cls({}, f"the corpus {path} is not on this machine: hits show ids only")
        try:
            texts = {doc.id: doc for doc in Dataset(path.stem, path.parent, path.name).corpus()}
        except (LsrError, OSError) as error:
            log.warning("cannot read the corpus %s: %s", path, error)
            return cls({}, f"the corpus {path} cannot be read ({error}): hits show ids only")
        note = None
        if corpus.get("sha256") and file_sha256(path) != corpus["sha256"]:
            note = f"the corpus {path} changed since the index was built: texts may not be those indexed"
        return cls(texts, note)

    def title_and_snippet(self, docid: str) -> tuple[str | None, str | None]:
        """The document's title and the start of its text (None and None when it is not known)."""
        found = self.texts.get(docid)
        if found is None:
            return None, None
        text = found.text
        return found.title, text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"

    def contents(self, docid: str) -> str | None:
        """Title and text, as indexed (None when not known)."""
        found = self.texts.get(docid)
        return None if found is None else found.contents
