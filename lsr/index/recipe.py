"""Index recipes: the YAML files in ``indexing/`` that say how a corpus becomes an index.

Three kinds, told apart by the YAML's ``kind`` key (absent: a sparse recipe, as before):

- sparse (:class:`IndexRecipe`): BM25 or a sparse encoder into a Lucene index;
- ``kind: dense`` (:class:`DenseRecipe`): a sentence-transformers encoder into a faiss index;
- ``kind: hybrid`` (:class:`HybridRecipe`): a sparse recipe and a dense recipe, fused at search time.

:func:`load_recipe` reads any of them; unknown keys are errors everywhere. Paths in a recipe (a hybrid's
components, an ``encoder`` or dense ``query_encoder`` given as a model folder) are relative to the recipe's
folder (:func:`lsr.recipe_files.resolve_relative`); short model names and hub ids are names.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lsr.encoders.onnx import BACKENDS
from lsr.errors import LsrError
from lsr.fusion import FusionConfig
from lsr.index.pruning import check_two_phase
from lsr.recipe_files import (
    COUNT,
    FRACTION,
    POSITIVE,
    Number,
    check_flag,
    check_keys,
    check_name,
    check_numbers,
    check_strings,
    made,
    name_or_path,
    read_recipe,
    resolve_relative,
)

QUERY_ENCODERS = ("model", "idf", "table")
TRAINING_INFO = "lsr_training.json"  # what lsr train writes beside a dense model it trained
FAISS_INDEXES = ("flat", "hnsw")
SPARSE_NUMBERS = {"doc_max_length": COUNT, "query_max_length": COUNT, "doc_scale": POSITIVE, "query_scale": POSITIVE, "batch_size": COUNT,
                  "k1": Number(low=0), "b": FRACTION, "doc_top_k": Number(integer=True, low=1, optional=True), "doc_min_ratio": FRACTION,
                  "lexical_weight": Number(low=0), "query_min_ratio": FRACTION, "query_max_df": Number(low=0, high=1, above=True)}
DENSE_NUMBERS = {"max_length": Number(integer=True, low=1, optional=True), "batch_size": COUNT, "hnsw_m": COUNT, "ef_construction": COUNT,
                 "ef_search": COUNT}


def _fingerprint(settings: dict) -> str:
    """A short hash of index settings. An encoder (or query encoder) given as a directory, e.g. a model
    just trained, adds a digest of its files, so retraining into the same directory makes the old index stale."""
    for key in ("encoder", "query_encoder"):
        model = settings.get(key)
        if isinstance(model, str) and model and Path(model).is_dir():
            settings = {**settings, f"{key}_digest": directory_digest(Path(model))}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def directory_digest(folder: Path) -> str:
    """sha256 over the relative paths and contents of the files under ``folder``.

    Fingerprints are taken several times per run (every system, every hybrid component); the
    digest is computed once per state of the folder (paths, sizes, modification times).
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    state = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _digest_of(str(folder), state)


@functools.lru_cache(maxsize=64)
def _digest_of(folder: str, state: tuple) -> str:
    digest = hashlib.sha256()
    for relative, _, _ in state:
        digest.update(relative.encode())
        with open(Path(folder) / relative, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def check_build_arguments(recipe, kind: type, dataset, output) -> None:
    """An LsrError unless an index build was given a ``kind`` recipe, an lsr Dataset and an output folder's path."""
    from lsr.data import Dataset

    if not isinstance(recipe, kind):
        raise LsrError(f"recipe must be an {kind.__name__} (e.g. {kind.__name__}.load(path)), got {type(recipe).__name__} {recipe!r:.80}")
    if not isinstance(dataset, Dataset):
        raise LsrError(f"dataset must be an lsr Dataset (lsr.data.load_dataset(name or folder)), got {type(dataset).__name__} {dataset!r:.80}")
    if not isinstance(output, (str, os.PathLike)) or not os.fspath(output):
        raise LsrError(f"output must be a folder's path (str or os.PathLike), got {type(output).__name__} {output!r:.80}")


def check_backend(backend: str, where: str) -> None:
    """LsrError unless ``backend`` is one of :data:`lsr.encoders.onnx.BACKENDS`."""
    if backend not in BACKENDS:
        raise LsrError(f"{where}: query_backend must be one of {BACKENDS}, got {backend!r}")


@dataclass(frozen=True)
class IndexRecipe:
    """How to index a corpus into Lucene (sparse).

    ``encoder`` is ``bm25`` or a sparse encoder (short name, path or hub id; in a recipe file a path is relative to its
    folder). ``query_encoder`` says how queries are encoded at search time: ``model`` runs the encoder on them (siamese SPLADE),
    ``idf`` weights query tokens by the IDF of the corpus being indexed (zero-shot inference-free),
    ``table`` uses the inference-free model's own query weight table. Weights become Lucene
    impacts as ``round(w * scale)``. Document-side pruning (impact indexes): ``doc_top_k`` keeps each
    document's k heaviest terms, ``doc_min_ratio`` those weighing at least that fraction of its heaviest.
    ``lexical_weight`` > 0 adds a BM25 channel (:mod:`lsr.encoders.lexical`, with ``k1`` and ``b``) to an
    impact index: the score becomes ``lexical_weight * BM25 + learned``, in one search.
    ``query_min_ratio`` / ``query_max_df`` (query-side pruning) and ``two_phase`` (``[ratio, expansion]``:
    the query terms weighing at least ``ratio`` x the heaviest find ``expansion`` x k candidates, which all
    the terms then score; :class:`lsr.search.searcher.TwoPhase`) are search defaults that every searcher of
    the index applies unless told otherwise (recorded in the manifest's ``query.defaults``): fewer posting
    lists per query, for latency. ``query_backend`` (``query_encoder: model`` only): ``torch`` runs the model on
    queries; ``onnx`` / ``onnx-int8`` export it into the index (:mod:`lsr.encoders.onnx`) and run that instead.
    """

    name: str
    encoder: str = "bm25"
    query_encoder: str = "model"
    doc_max_length: int = 256
    query_max_length: int = 64
    doc_scale: float = 100.0
    query_scale: float = 100.0
    batch_size: int = 32
    k1: float = 0.9
    b: float = 0.4
    doc_top_k: int | None = None
    doc_min_ratio: float = 0.0
    lexical_weight: float = 0.0
    query_min_ratio: float = 0.0
    query_max_df: float = 1.0
    two_phase: tuple[float, float] | None = None
    query_backend: str = "torch"

    def __post_init__(self):
        check_name(self.name)
        check_strings(self, ("encoder", "query_encoder", "query_backend"))
        if self.query_encoder not in QUERY_ENCODERS:
            raise LsrError(f"recipe {self.name!r}: query_encoder must be one of {QUERY_ENCODERS}, got {self.query_encoder!r}")
        check_backend(self.query_backend, f"recipe {self.name!r}")
        if self.query_backend != "torch" and (self.encoder == "bm25" or self.query_encoder != "model"):
            raise LsrError(f"recipe {self.name!r}: query_backend {self.query_backend!r} runs a query model; "
                           f"{'a BM25 index' if self.encoder == 'bm25' else f'query_encoder {self.query_encoder!r}'} has none")
        check_numbers(self, SPARSE_NUMBERS, f"recipe {self.name!r}")
        if self.encoder == "bm25" and (self.doc_top_k is not None or self.doc_min_ratio > 0):
            raise LsrError(f"recipe {self.name!r}: doc_top_k / doc_min_ratio prune impact vectors; a BM25 index has none")
        if self.two_phase is not None:
            if not isinstance(self.two_phase, (list, tuple)) or len(self.two_phase) != 2:
                raise LsrError(f"recipe {self.name!r}: two_phase must be [ratio, expansion], got {self.two_phase!r}")
            check_two_phase(*self.two_phase, f"recipe {self.name!r}: two_phase")
            object.__setattr__(self, "two_phase", tuple(float(x) for x in self.two_phase))
        if self.encoder == "bm25" and self.search_defaults:
            raise LsrError(f"recipe {self.name!r}: query_min_ratio / query_max_df / two_phase apply to impact queries; a BM25 index has none")
        if self.encoder == "bm25" and self.lexical_weight:
            raise LsrError(f"recipe {self.name!r}: lexical_weight adds a BM25 channel to an impact index; a BM25 index is one already")

    @property
    def kind(self) -> str:
        """``bm25`` or ``impact``."""
        return "bm25" if self.encoder == "bm25" else "impact"

    @property
    def pruned(self) -> bool:
        """Whether documents are pruned (``doc_top_k`` or ``doc_min_ratio`` set)."""
        return self.doc_top_k is not None or self.doc_min_ratio > 0

    @property
    def search_defaults(self) -> dict:
        """The search settings that differ from an exhaustive search: ``{"query_min_ratio": r, "query_max_df": f,
        "two_phase": [ratio, expansion]}`` (any may be absent)."""
        settings = {"query_min_ratio": (self.query_min_ratio, 0.0), "query_max_df": (self.query_max_df, 1.0),
                    "two_phase": (list(self.two_phase) if self.two_phase else None, None)}
        return {key: value for key, (value, off) in settings.items() if value != off}

    def fingerprint(self) -> str:
        """A short hash of the settings that change the index (not the name; pruning only when set)."""
        settings = {k: v for k, v in asdict(self).items() if k != "name"}
        if not self.pruned:  # recipes without pruning keep the fingerprints of indexes built before it existed
            del settings["doc_top_k"], settings["doc_min_ratio"]
        if not self.lexical_weight:  # nor do recipes without a BM25 channel
            del settings["lexical_weight"]
        for key in ("query_min_ratio", "query_max_df", "two_phase"):  # nor recipes without search defaults
            if key not in self.search_defaults:
                del settings[key]
        if self.query_backend == "torch":  # nor recipes whose queries run the torch model
            del settings["query_backend"]
        return _fingerprint(settings)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "IndexRecipe":
        """Read a sparse recipe YAML; unknown keys are errors (a typo must not be silently ignored)."""
        recipe = load_recipe(path)
        if not isinstance(recipe, cls):
            raise LsrError(f"{path}: a {recipe.kind} recipe, not a sparse one")
        return recipe


@dataclass(frozen=True)
class DenseRecipe:
    """How to index a corpus into faiss with a sentence-transformers (bi-encoder) model.

    ``encoder`` is a short name (``all-MiniLM-L6-v2``), a path (in a recipe file, relative to its folder) or a hub id. ``faiss_index``:
    ``flat`` (exact inner product) or ``hnsw`` (approximate; ``hnsw_m``, ``ef_construction``,
    ``ef_search``). ``normalize`` makes inner product the cosine. ``query_prompt`` /
    ``document_prompt`` are prepended to the texts (e.g. for BGE or E5 models); empty by default.
    ``query_encoder``: a different model for queries whose vectors live in ``encoder``'s space (what
    ``lsr train`` with ``tune: query`` writes); the document vectors are then those of ``encoder``,
    copied from an existing index of the same document settings when there is one. ``query_backend``: ``torch``,
    or ``onnx`` / ``onnx-int8`` to encode queries with the query model's ONNX export, written into the index.
    """

    name: str
    encoder: str = "all-MiniLM-L6-v2"
    query_encoder: str = ""  # another model for queries (e.g. a query encoder tuned by lsr train); empty: encoder
    max_length: int | None = None
    batch_size: int = 32
    normalize: bool = True
    query_prompt: str = ""
    document_prompt: str = ""
    faiss_index: str = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    query_backend: str = "torch"

    kind = "dense"

    def __post_init__(self):
        check_name(self.name)
        check_strings(self, ("encoder", "query_encoder", "query_prompt", "document_prompt", "query_backend"))
        check_backend(self.query_backend, f"recipe {self.name!r}")
        if self.faiss_index not in FAISS_INDEXES:
            raise LsrError(f"recipe {self.name!r}: faiss_index must be one of {FAISS_INDEXES}, got {self.faiss_index!r}")
        check_flag(self.normalize, f"recipe {self.name!r}: normalize")
        check_numbers(self, DENSE_NUMBERS, f"recipe {self.name!r}")

    def fingerprint(self) -> str:
        """A short hash of the settings that change the stored vectors or the faiss index (not the name, not
        ef_search); a model given as a directory adds a digest of its files (retraining rebuilds the index)."""
        settings = {k: v for k, v in asdict(self).items() if k not in ("name", "ef_search")}
        if not self.query_encoder:
            del settings["query_encoder"]  # recipes without one keep the fingerprints (and indexes) they had
        if self.query_backend == "torch":
            del settings["query_backend"]  # as do recipes whose queries run the torch model
        return _fingerprint(settings)

    def documents_fingerprint(self) -> str:
        """A short hash of what the document vectors depend on (not the query side, not the faiss settings)."""
        return _fingerprint({k: getattr(self, k) for k in ("encoder", "max_length", "normalize", "document_prompt")})


@dataclass(frozen=True)
class HybridRecipe:
    """A sparse and a dense recipe (paths relative to this recipe's folder) and how to fuse them.

    ``sparse`` may also be a YAML list of sparse recipes: the first is ``sparse``, the others
    ``more_sparse``, and ``list_weights`` then gives one weight per list (sparse ones, then dense).
    """

    name: str
    sparse: IndexRecipe
    dense: DenseRecipe
    fusion: FusionConfig
    path: Path | None = None
    more_sparse: tuple[IndexRecipe, ...] = ()

    kind = "hybrid"

    def __post_init__(self):
        check_name(self.name)

    @property
    def sparse_recipes(self) -> tuple[IndexRecipe, ...]:
        """Every sparse component, in fusion order."""
        return (self.sparse, *self.more_sparse)

    def fingerprint(self) -> str:
        """A short hash of the components' fingerprints and the fusion settings."""
        settings = {"sparse": self.sparse.fingerprint(), "dense": self.dense.fingerprint(), "fusion": asdict(self.fusion)}
        if self.more_sparse:
            settings["more_sparse"] = [r.fingerprint() for r in self.more_sparse]
        if self.fusion.list_weights is None:
            del settings["fusion"]["list_weights"]  # two-list recipes keep the fingerprints they had
        return _fingerprint(settings)


def load_recipe(path: str | os.PathLike) -> IndexRecipe | DenseRecipe | HybridRecipe:
    """Read any index recipe YAML: sparse (no ``kind``), ``kind: dense`` or ``kind: hybrid``."""
    path = Path(path)
    data = read_recipe(path)
    kind = data.pop("kind", "sparse")
    data.setdefault("name", path.stem)
    if kind == "sparse":
        check_keys(path, data, {f.name for f in fields(IndexRecipe)})
        return made(path, IndexRecipe, _models(path, data, ("encoder",)))
    if kind == "dense":
        check_keys(path, data, {f.name for f in fields(DenseRecipe)})
        return made(path, DenseRecipe, _models(path, data, ("encoder", "query_encoder")))
    if kind == "hybrid":
        return _load_hybrid(path, data)
    raise LsrError(f"{path}: kind must be sparse (the default), dense or hybrid, got {kind!r}")


def _models(path: Path, data: dict, keys: tuple[str, ...]) -> dict:
    """``data`` with the model settings ``keys`` that are paths read relative to the recipe's folder (names kept)."""
    return {**data, **{key: name_or_path(path, data[key], key) for key in keys if key in data}}


def _load_hybrid(path: Path, data: dict) -> HybridRecipe:
    fusion_keys = {f.name for f in fields(FusionConfig)}
    check_keys(path, data, {"name", "sparse", "dense"} | fusion_keys)
    names = [data.get("sparse")] if isinstance(data.get("sparse"), str) else data.get("sparse")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise LsrError(f"{path}: a hybrid recipe needs 'sparse': the path of a sparse recipe, or a list of them (relative to {path.parent})")
    if not isinstance(data.get("dense"), str):
        raise LsrError(f"{path}: a hybrid recipe needs 'dense': the path of a dense recipe (relative to {path.parent})")
    for key, name in [*(("sparse", n) for n in names), ("dense", data["dense"])]:
        if read_recipe(Path(resolve_relative(path, name))).get("kind") == "hybrid":  # read before it is loaded: it may name this file
            raise LsrError(f"{path}: '{key}' must name a {'sparse (BM25 or impact)' if key == 'sparse' else 'dense'} recipe, "
                           f"{name} is hybrid")
    sparse = [load_recipe(resolve_relative(path, name)) for name in names]
    dense = load_recipe(resolve_relative(path, data["dense"]))
    for name, recipe in zip(names, sparse):
        if not isinstance(recipe, IndexRecipe):
                raise LsrError(f"{path}: 'sparse' must name a sparse (BM25 or impact) recipe, {name} is {recipe.kind}")
    if not isinstance(dense, DenseRecipe):
        raise LsrError(f"{path}: 'dense' must name a dense recipe (kind: dense), {data['dense']} is {dense.kind}")
    settings = {k: v for k, v in data.items() if k in fusion_keys}
    if isinstance(settings.get("list_weights"), list):
        settings["list_weights"] = tuple(settings["list_weights"])
    try:
        fusion = FusionConfig(**settings)
    except LsrError as error:
        raise LsrError(f"{path}: {error}") from None
    if len(fusion.weights) != len(sparse) + 1:
        raise LsrError(f"{path}: {len(sparse)} sparse list(s) and a dense one need {len(sparse) + 1} weights; "
                       f"give list_weights (one per sparse recipe, in order, then the dense one)")
    return made(path, HybridRecipe, {"name": data["name"], "sparse": sparse[0], "dense": dense, "fusion": fusion, "path": path,
                                      "more_sparse": tuple(sparse[1:])})
