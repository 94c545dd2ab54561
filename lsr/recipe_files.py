"""Reading recipe YAML files (index, training and evaluation recipes share these checks)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lsr.errors import LsrError


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
