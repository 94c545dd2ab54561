"""Peak resident memory of this process and all its children (e.g. an indexing JVM), by sampling."""

from __future__ import annotations

import threading

import psutil


def tree_rss() -> int:
    """Resident bytes of this process plus all its descendants, now."""
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # a child that just exited
            pass
    return total


class PeakRSS:
    """``with PeakRSS() as peak: ...`` then ``peak.bytes``: the largest tree RSS sampled during the block."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.bytes = max(self.bytes, tree_rss())
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, tree_rss())
