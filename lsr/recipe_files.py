"""Reading recipe YAML files (index, training and evaluation recipes share these checks).

One rule for the paths written inside a recipe or matrix file: a relative path is relative to the
folder of the file that spells it (``eval/leaderboard.yaml`` names ``../indexing/bm25.yaml``), never to
the working directory. :func:`resolve_relative` applies it; :func:`name_or_path` applies it to the
settings that may also hold a name (models, datasets) and only when the value is clearly a path.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lsr.errors import LsrError

log = logging.getLogger(__name__)


LSR_ROOT = Path(__file__).resolve().parents[1]
"""The checkout lsr runs from, whose ``indexing/``, ``training/`` and ``eval/`` hold its recipes."""


def lsr_file(value: str) -> str:
    """A recipe path given on the command line: as written when it exists from the working directory, else lsr's own file of
    that relative path (``lsr adapt CORPUS`` run from any folder finds ``training/adapt.yaml``), else as written (its reader
    names it)."""
    if os.path.exists(value) or os.path.isabs(value) or not (LSR_ROOT / value).is_file():
        return value
    return str(LSR_ROOT / value)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML itself keeps the last one silently)."""


def _unique_mapping(loader: _UniqueKeyLoader, node, deep: bool = False) -> dict:
    lines: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            first = lines.setdefault(key, line)
        except TypeError:  # an unhashable key: construct_mapping names it
            continue
        if first != line:
            raise yaml.YAMLError(f"setting {key!r} is given twice (lines {first} and {line}); keep one")
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_recipe(path: Path) -> dict:
    """The settings of a recipe file; unreadable YAML or bytes that are not UTF-8, a key given twice or a non-mapping is a
    clear error (one line)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except UnicodeDecodeError as error:
        raise LsrError(f"cannot read recipe {path}: not valid UTF-8 (byte {error.start}: {error.object[error.start:error.start + 4]!r})") from None
    except OSError as error:
        raise LsrError(f"cannot read recipe {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise LsrError(f"cannot read recipe {path}: {yaml_reason(error)}") from None
    if not isinstance(data, dict):
        raise LsrError(f"{path}: a recipe is a mapping of settings")
    return data


def yaml_reason(error: yaml.YAMLError) -> str:
    """One line for PyYAML's error: where (line, column) and what, without its quoted source lines."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return where + "; ".join(" ".join(part.split()) for part in (error.context, error.problem) if part)
    return " ".join(str(error).split())


def check_keys(path: Path, data: dict, known: set[str]) -> None:
    """Unknown settings are errors: a typo must not be silently ignored."""
    unknown = sorted(set(data) - known)
    if unknown:
        raise LsrError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def check_name(name) -> None:
    """LsrError unless a recipe's ``name`` is a plain file name: it names the recipe's output folder, which it must not leave."""
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\0") or ".." in name or name == ".":
        raise LsrError(f"recipe name {name!r}: a name must be a plain file name (no '/', '\\', '..' or NUL; not empty), "
                       "e.g. bm25 or splade-tiny-v2")


def check_flag(value, what: str, optional: bool = False) -> None:
    """LsrError unless ``value`` is a YAML boolean (or None when ``optional``): the text ``"false"`` would count as true."""
    if not isinstance(value, bool) and not (optional and value is None):
        hint = " (a string: write true or false without quotes)" if isinstance(value, str) else ""
        raise LsrError(f"{what} must be true or false{' or absent' if optional else ''}, got {value!r}{hint}")


def check_plain(value, what: str, example: str) -> None:
    """LsrError unless ``value`` is a plain name (:func:`check_name`'s rule): it names a folder or file under the
    output folder, which it must not leave."""
    try:
        check_name(value)
    except LsrError:
        raise LsrError(f"{what} {value!r} must be a plain name (no '/', '\\', '..' or NUL; not empty), e.g. {example}") from None


def check_strings(settings, names: tuple[str, ...]) -> None:
    """LsrError naming the first of ``settings``' (a recipe dataclass) fields ``names`` that does not hold a string."""
    for field in names:
        value = getattr(settings, field)
        if not isinstance(value, str):
            raise LsrError(f"recipe {settings.name!r}: {field} must be a string, got {value!r}")


@dataclass(frozen=True)
class Number:
    """What a numeric recipe setting may hold: a finite number (an ``integer`` if set; never a bool) from ``low``
    (excluded when ``above``) to ``high``; ``None`` too when ``optional``."""

    integer: bool = False
    low: float = -math.inf
    high: float = math.inf
    above: bool = False
    optional: bool = False

    def allows(self, value) -> bool:
        """Whether ``value`` is such a number."""
        if value is None:
            return self.optional
        kind = int if self.integer else (int, float)
        if not isinstance(value, kind) or isinstance(value, bool) or not math.isfinite(value):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def describe(self) -> str:
        """E.g. ``an integer >= 1``, ``a number in [0, 1]``, ``a finite number > 0``."""
        kind = "an integer" if self.integer else "a finite number"
        if self.low > -math.inf and self.high < math.inf:
            bounds = f" in {'(' if self.above else '['}{self.low:g}, {self.high:g}]"
        elif self.low > -math.inf:
            bounds = f" {'>' if self.above else '>='} {self.low:g}"
        else:
            bounds = f" <= {self.high:g}" if self.high < math.inf else ""
        return kind + bounds + (" or empty" if self.optional else "")


COUNT, FRACTION, POSITIVE = Number(integer=True, low=1), Number(low=0, high=1), Number(low=0, above=True)

EXPONENT_FORM = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
"""A number in exponent form that YAML 1.1 reads as a string (``1e-4``: no dot, or an unsigned exponent), as
``--set learning_rate=1e-4`` writes it."""


def check_numbers(settings, numbers: dict[str, Number], what: str, reals_as_float: bool = False) -> None:
    """Check the ``numbers`` of ``settings`` (a recipe dataclass, frozen or not), storing what was read as a number.

    Only what spells such a number exactly is read as one: a number in exponent form that YAML left a string
    (:data:`EXPONENT_FORM`) for a real field, a float without a fraction (``3.0``) for an integer one; with
    ``reals_as_float`` every real field is stored as a float (``2`` as ``2.0``). Anything else that is not the number a
    field must be (``2.5`` for an integer, text, booleans, infinities, NaN, out of range) is an LsrError naming ``what``,
    the field, the value and what would be valid.
    """
    for field, number in numbers.items():
        value = getattr(settings, field)
        if not number.integer and isinstance(value, str) and EXPONENT_FORM.fullmatch(value.strip()):
            value = float(value)
        elif number.integer and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not number.allows(value):
            raise LsrError(f"{what}: {field} must be {number.describe()}, got {value!r}{_string_hint(value)}")
        object.__setattr__(settings, field, float(value) if reals_as_float and not number.integer and value is not None else value)


def made(path: Path, make, settings: dict):
    """``make(**settings)``, its errors (a bad setting) prefixed with the recipe file's path."""
    try:
        return make(**settings)
    except LsrError as error:
        raise LsrError(f"{path}: {error}") from None


def _string_hint(value) -> str:
    """Why a number may have been read as a string: YAML 1.1 takes ``1.0e12`` (an exponent without its sign) for one."""
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    mantissa, exponent_mark, exponent = value.strip().lower().partition("e")
    if not exponent_mark:
        return " (a string: write it without quotes)"
    written = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent if exponent[:1] in ('+', '-') else '+' + exponent}"
    return f" (a string: YAML reads a number in exponent form as a number only with a dot and a signed exponent, e.g. {written})"


def parse_overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` settings that override a recipe's (``--set``), each value read as YAML."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LsrError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            reason = yaml_reason(error)
            raise LsrError(f"--set {item!r}: the value is not valid YAML ({reason}); quote text, e.g. {key.strip()}='\"{value}\"'") from None
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
