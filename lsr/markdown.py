"""Markdown tables: the one writer behind every table lsr prints or writes (results, leaderboard, ablation, bench)."""

from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> list[str]:
    """The lines of a markdown table: the header, its ``|---|`` rule, then one line per row.

    A cell is ``str(value)``, except ``None``, which is an empty cell. The lines carry no trailing
    newline and no blank line after the table; join them with ``"\\n"``.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if value is None else str(value) for value in row) + " |" for row in rows]
    return lines
