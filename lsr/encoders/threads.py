"""Torch thread count for single-query encoding (imports torch only when a count is set)."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def torch_threads(count: int | None):
    """Run torch on ``count`` threads inside the block (None: leave it). One short query is faster on one
    thread than on two busy cores."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
