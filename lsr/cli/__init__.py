"""The ``lsr`` command: build indexes, search them, tune hybrids, evaluate systems on BEIR datasets."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager, nullcontext

from lsr.cli.commands import COMMANDS
from lsr.cli.parser import build_parser
from lsr.encoders.loading import no_progress_bars
from lsr.errors import LsrError, system_error


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lsr`` console script."""
    args = build_parser().parse_args(argv)
    try:
        with _reporting(getattr(args, "quiet", False)):
            return COMMANDS[args.command](args) or 0
    except LsrError as error:
        print(f"lsr: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the system refused: a full or read-only disk, a missing permission
        print(f"lsr: error: {system_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lsr: interrupted", file=sys.stderr)
        return 130


@contextmanager
def _reporting(quiet: bool):
    """lsr's log messages as plain lines on stderr: INFO and up, or with --quiet warnings only and no transformers progress bars."""
    logger = logging.getLogger("lsr")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False  # once, even when a library has given the root logger a handler (logging.warning does)
    try:
        with no_progress_bars() if quiet else nullcontext():
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
