"""Peak resident memory of this process and all its children (e.g. an indexing JVM), or of its children alone, by sampling."""

from __future__ import annotations

import threading

import psutil


def tree_rss(include_self: bool = True) -> int:
    """Resident bytes of this process (unless not ``include_self``) plus all its descendants, now."""
    me = psutil.Process()
    total = 0
    for process in ([me] if include_self else []) + me.children(recursive=True):
        try:
            total += process.memory_info().rss
        except psutil.Error:  # a child that just exited
            pass
    return total


class PeakRSS:
    """``with PeakRSS() as peak: ...`` then ``peak.bytes``: the largest tree RSS sampled during the block (``include_self=False``:
    of the processes that this one started, alone)."""

    def __init__(self, interval: float = 0.2, include_self: bool = True):
        self.interval = interval
        self.include_self = include_self
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.bytes = max(self.bytes, tree_rss(self.include_self))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, tree_rss(self.include_self))
