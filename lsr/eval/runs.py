"""TREC run files: ``qid Q0 docid rank score tag``, written atomically."""

from __future__ import annotations

import math
import os

from lsr.atomic import atomic_file
from lsr.data import text_lines
from lsr.errors import LsrError
from lsr.eval.metrics import Run


def write_run(run: Run, path: str | os.PathLike, tag: str) -> None:
    """Write ``run`` in TREC format, hits ranked by score (ties by doc id); renamed into place when complete."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for query_id, hits in run.items():
            ranked = sorted(hits.items(), key=lambda item: (-item[1], item[0]))
            for rank, (doc_id, score) in enumerate(ranked, start=1):
                out.write(f"{query_id} Q0 {doc_id} {rank} {score:.6f} {tag}\n")


def read_run(path: str | os.PathLike) -> Run:
    """Read a TREC run file; a malformed line (not six columns, a score that is not a finite number, a document ranked
    twice for one query) raises LsrError naming it."""
    run: Run = {}
    for number, line in text_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise LsrError(f"{path}:{number}: expected 6 columns (qid Q0 docid rank score tag), got {len(parts)}")
        try:
            score = float(parts[4])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise LsrError(f"{path}:{number}: score {parts[4]!r} is not a finite number")
        hits = run.setdefault(parts[0], {})
        if parts[2] in hits:
            raise LsrError(f"{path}:{number}: document {parts[2]!r} is ranked twice for query {parts[0]!r}")
        hits[parts[2]] = score
    return run
