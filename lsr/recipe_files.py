"""Reading recipe YAML files (index, training and evaluation recipes share these checks).

One rule for the paths written inside a recipe or matrix file: a relative path is relative to the
folder of the file that spells it (``eval/leaderboard.yaml`` names ``../indexing/bm25.yaml``), never to
the working directory. :func:`resolve_relative` applies it; :func:`name_or_path` applies it to the
settings that may also hold a name (models, datasets) and only when the value is clearly a path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

from lsr.errors import LsrError

log = logging.getLogger(__name__)


def read_recipe(path: Path) -> dict:
    """The settings of a recipe file; unreadable YAML or a non-mapping is a clear error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise LsrError(f"cannot read recipe {path}: {error}") from None
    if not isinstance(data, dict):
        raise LsrError(f"{path}: a recipe is a mapping of settings")
    return data


def check_keys(path: Path, data: dict, known: set[str]) -> None:
    """Unknown settings are errors: a typo must not be silently ignored."""
    unknown = sorted(set(data) - known)
    if unknown:
        raise LsrError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def parse_overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` settings that override a recipe's (``--set``), each value read as YAML."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise LsrError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides


def resolve_relative(recipe_path: str | os.PathLike, value: str) -> str:
    """The path that ``value``, written inside the recipe (or matrix) file at ``recipe_path``, names.

    A relative ``value`` is relative to the folder of ``recipe_path``, whatever the working directory;
    an absolute one stays as written. The result is spelled relative to the working directory when it
    lies under it (normalised: ``indexing/../out/models/m`` reads ``out/models/m``), else absolute. Run
    from the repository root, a model folder therefore reads as it did when recipe paths were relative
    to the working directory, and index fingerprints (which hash a model setting's spelling) stay the same.
    """
    if os.path.isabs(value):
        return value
    target = Path(os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(recipe_path)), value)))
    cwd = Path(os.getcwd())
    return os.path.relpath(target, cwd) if target.is_relative_to(cwd) else str(target)


def name_or_path(recipe_path: str | os.PathLike, value, key: str = "") -> str:
    """A setting that names a model or dataset *or* gives its path, as :func:`resolve_relative` reads it when it is a path.

    ``value`` is a path when it clearly is one: it starts with ``./`` or ``../``, or it contains a ``/``
    and names something that exists relative to the recipe's folder (a model not built yet is written
    ``../out/models/NAME``). Anything else is a name and is returned as written: a short model name
    (``splade-tiny``), a hub id (``naver/splade-v3``), a dataset under the data root (``scifact``,
    ``cqadupstack/android``). Absolute paths and values that are not strings are returned as they are.
    """
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    folder = os.path.dirname(os.path.abspath(recipe_path))
    if value.startswith(("./", "../")) or value in (".", "..") or ("/" in value and os.path.exists(os.path.join(folder, value))):
        return resolve_relative(recipe_path, value)
    if "/" in value and os.path.exists(value):
        log.warning("%s: %s%r is read as a name: it is no path relative to the recipe's folder %s (paths in a recipe are; "
                    "write ./ or ../), though it exists relative to the working directory", recipe_path, f"{key} " if key else "", value, folder)
    return value
