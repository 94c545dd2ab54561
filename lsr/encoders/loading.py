"""Model loading without transformers' progress bars ("Loading weights"): lsr shows its own progress."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def no_progress_bars():
    """Turn off transformers' and the Hugging Face hub's progress bars inside the block; as they were after it."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
