"""The BEIR datasets by name, with their official sizes, and opening one for evaluation.

:data:`BEIR` holds the corpus size and, per split, the number of judged queries and of qrels lines
of every BEIR dataset (the 18 of the BEIR paper plus Robust04; CQADupStack as its 12 subforums,
whose mean is BEIR's CQADupStack score). Public ones match ir_datasets' ``beir/...`` metadata and
the BEIR zips; BioASQ, Signal-1M, TREC-NEWS and Robust04 are not redistributed, so only the BEIR
paper's corpus and query counts are known for them.

:func:`open_dataset` finds a dataset (see :func:`lsr.data.load_dataset`: a directory, a name
under the data root, or ``beir/<name>[/<split>]`` through ir_datasets when online) and, for a
known name, checks its counts so that a truncated or wrong copy cannot pass for the real one.
A name that is not in the table is any BEIR-layout folder a user dropped into the data root: it
is read and validated record by record, with nothing to compare its sizes against.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lsr.data import Dataset, load_dataset
from lsr.errors import LsrError

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class BeirInfo:
    """Official sizes of one BEIR dataset.

    ``splits`` maps a split to (judged queries, qrels lines); qrels None where unpublished.
    ``split`` is the split BEIR evaluates on; ``ignore_identical_ids`` drops hits whose doc id
    equals the query id (BEIR does it for ArguAna and Quora, whose queries are also documents).
    """

    corpus: int
    splits: dict[str, tuple[int, int | None]]
    split: str = "test"
    ignore_identical_ids: bool = False
    ir_datasets_id: str | None = None  # None: "beir/<name>"; "": not downloadable
    notes: str = field(default="", compare=False)


def _cqa(corpus: int, queries: int, qrels: int) -> BeirInfo:
    return BeirInfo(corpus, {"test": (queries, qrels)}, notes="a CQADupStack subforum; BEIR reports the mean of the 12")


BEIR: dict[str, BeirInfo] = {
    "msmarco": BeirInfo(8_841_823, {"train": (502_939, 532_751), "dev": (6_980, 7_437), "test": (43, 9_260)}, split="dev"),
    "trec-covid": BeirInfo(171_332, {"test": (50, 66_336)}),
    "nfcorpus": BeirInfo(3_633, {"train": (2_590, 110_575), "dev": (324, 11_385), "test": (323, 12_334)}),
    "bioasq": BeirInfo(14_914_602, {"test": (500, None)}, ir_datasets_id="", notes="not redistributed; build it with BEIR's scripts"),
    "nq": BeirInfo(2_681_468, {"test": (3_452, 4_201)}),
    "hotpotqa": BeirInfo(5_233_329, {"train": (85_000, 170_000), "dev": (5_447, 10_894), "test": (7_405, 14_810)}),
    "fiqa": BeirInfo(57_638, {"train": (5_500, 14_166), "dev": (500, 1_238), "test": (648, 1_706)}),
    "signal1m": BeirInfo(2_866_316, {"test": (97, None)}, ir_datasets_id="", notes="not redistributed; build it with BEIR's scripts"),
    "trec-news": BeirInfo(594_977, {"test": (57, None)}, ir_datasets_id="", notes="not redistributed; build it with BEIR's scripts"),
    "robust04": BeirInfo(528_155, {"test": (249, None)}, ir_datasets_id="", notes="not redistributed; build it with BEIR's scripts"),
    "arguana": BeirInfo(8_674, {"test": (1_406, 1_406)}, ignore_identical_ids=True),
    "webis-touche2020": BeirInfo(382_545, {"test": (49, 2_214)}, ir_datasets_id="beir/webis-touche2020/v2",
                                 notes="BEIR's zip holds the v2 judgements"),
    "cqadupstack/android": _cqa(22_998, 699, 1_696),
    "cqadupstack/english": _cqa(40_221, 1_570, 3_765),
    "cqadupstack/gaming": _cqa(45_301, 1_595, 2_263),
    "cqadupstack/gis": _cqa(37_637, 885, 1_114),
    "cqadupstack/mathematica": _cqa(16_705, 804, 1_358),
    "cqadupstack/physics": _cqa(38_316, 1_039, 1_933),
    "cqadupstack/programmers": _cqa(32_176, 876, 1_675),
    "cqadupstack/stats": _cqa(42_269, 652, 913),
    "cqadupstack/tex": _cqa(68_184, 2_906, 5_154),
    "cqadupstack/unix": _cqa(47_382, 1_072, 1_693),
    "cqadupstack/webmasters": _cqa(17_405, 506, 1_395),
    "cqadupstack/wordpress": _cqa(48_605, 541, 744),
    "quora": BeirInfo(522_931, {"dev": (5_000, 7_626), "test": (10_000, 15_675)}, ignore_identical_ids=True),
    "dbpedia-entity": BeirInfo(4_635_922, {"dev": (67, 5_673), "test": (400, 43_515)}),
    "scidocs": BeirInfo(25_657, {"test": (1_000, 29_928)}),
    "fever": BeirInfo(5_416_568, {"train": (109_810, 140_085), "dev": (6_666, 8_079), "test": (6_666, 7_937)}),
    "climate-fever": BeirInfo(5_416_593, {"test": (1_535, 4_681)}),
    "scifact": BeirInfo(5_183, {"train": (809, 919), "test": (300, 339)}),
}


def parse_name(name: str) -> tuple[str, str | None]:
    """``beir/<name>[/<split>]`` or ``<name>[/<split>]`` -> (name, split or None); a path is returned as is."""
    bare = name[len("beir/"):] if name.startswith("beir/") else name
    head, _, last = bare.rpartition("/")
    if head and last in SPLITS and (head in BEIR or not os.path.isdir(name)):
        return head, last
    return bare, None


def info(name: str) -> BeirInfo | None:
    """The official sizes of a BEIR dataset name (``cqadupstack-android`` spelt either way), else None."""
    return BEIR.get(name) or BEIR.get(name.replace("cqadupstack-", "cqadupstack/", 1))


@dataclass(frozen=True)
class Opened:
    """A dataset ready to evaluate: which split, whether identical ids are dropped, its official sizes (None: unknown name)."""

    dataset: Dataset
    split: str
    ignore_identical_ids: bool
    official: BeirInfo | None


def open_dataset(name: str, data_dir: str | os.PathLike | None = None, split: str | None = None,
                 ignore_identical_ids: bool | None = None) -> Opened:
    """Find ``name`` (path, data-root name or ``beir/<name>[/<split>]``), check its files and, if known, its sizes.

    The split is ``split``, else the one in the name, else BEIR's (``dev`` for MS MARCO, ``test``
    otherwise). Missing files, a missing qrels split, or sizes that differ from :data:`BEIR` raise
    :class:`LsrError` naming the file and both counts.
    """
    bare, named_split = parse_name(name)
    known = info(bare)
    try:
        dataset = load_dataset(bare, data_dir, ir_datasets_id=known.ir_datasets_id if known else None)
    except LsrError as error:
        raise LsrError(f"{error} ({known.notes})" if known and known.ir_datasets_id == "" else str(error)) from None
    split = split or named_split or (known.split if known else "test")
    if not dataset.qrels_path(split).is_file():
        raise LsrError(f"dataset {dataset.name!r}: {dataset.qrels_path(split)} is missing "
                       f"(splits with qrels: {', '.join(dataset.splits()) or 'none'})")
    if known is not None:
        check_counts(dataset, split, known)
    drop = known.ignore_identical_ids if ignore_identical_ids is None and known else bool(ignore_identical_ids)
    return Opened(dataset, split, drop, known)


def check_counts(dataset: Dataset, split: str, official: BeirInfo) -> None:
    """Compare corpus, judged-query and qrels-line counts with the official ones; a mismatch raises LsrError."""
    problems = []
    if dataset.corpus_size != official.corpus:
        problems.append(f"{dataset.corpus_path} has {dataset.corpus_size:,} documents, the official corpus {official.corpus:,}")
    if split in official.splits:
        queries, qrels_lines = official.splits[split]
        qrels = dataset.qrels(split)
        if len(qrels) != queries:
            problems.append(f"{dataset.qrels_path(split)} judges {len(qrels):,} queries, officially {queries:,}")
        lines = sum(len(judged) for judged in qrels.values())
        if qrels_lines is not None and lines != qrels_lines:
            problems.append(f"{dataset.qrels_path(split)} has {lines:,} judgements, officially {qrels_lines:,}")
        missing = len(set(qrels) - set(dataset.all_queries()))
        if missing:
            problems.append(f"{dataset.queries_path} lacks {missing:,} of the judged queries")
    if problems:
        raise LsrError(f"dataset {dataset.name!r} ({split}) is not the official BEIR copy: " + "; ".join(problems))
