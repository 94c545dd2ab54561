"""Value types shared by the layers of lsr: :class:`Hit`, one search result."""

from __future__ import annotations

from typing import NamedTuple


class Hit(NamedTuple):
    """One search result."""

    docid: str
    score: float
