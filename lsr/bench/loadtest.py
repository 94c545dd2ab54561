"""``lsr loadtest`` / ``make loadtest``: concurrent clients against ``lsr serve`` on 127.0.0.1, then a check that every answer
equals the serial one.

The service runs in its own process (``lsr serve``, started here on a free loopback port and stopped at the end), so the
figures are those of a real HTTP service. First each (index, query) is asked once, one request at a time (the serial
answers and the single-client latency); then ``clients`` asynchronous clients (httpx) ask the same requests round robin
for ``seconds``. Reported: requests/s, p50 / p95 / p99 latency, errors (any non-200 answer or failed request) and
mismatches (an answer whose hits differ from the serial one).
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lsr.errors import LsrError
from lsr.jvm import dying_with_parent

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DAY = 86_400  # seconds: the longest load phase


@dataclass(frozen=True)
class LoadSettings:
    """What a load test runs: ``clients`` concurrent clients for ``seconds``, ``k`` hits per query, the service's
    ``max_concurrency`` (each field with a ``help`` is an option of ``lsr loadtest``)."""

    clients: int = field(default=16, metadata={"help": "concurrent clients"})
    seconds: float = field(default=30.0, metadata={"help": "length of the load phase"})
    k: int = 10
    max_concurrency: int = field(default=8, metadata={"help": "the service's --max-concurrency"})
    start_timeout: float = 180.0

    def __post_init__(self) -> None:
        """An LsrError naming the first setting that is not a number in its range (a load phase of NaN, negative or
        infinite seconds would report on nothing or never end)."""
        from lsr.config import MAX_THREADS
        from lsr.recipe_files import COUNT, POSITIVE, Number, check_numbers

        check_numbers(self, {"clients": Number(integer=True, low=1, high=MAX_THREADS), "seconds": Number(low=0, high=DAY, above=True),
                             "k": COUNT, "max_concurrency": Number(integer=True, low=1, high=MAX_THREADS),
                             "start_timeout": POSITIVE}, "load test")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_service(indexes: dict[str, Path], port: int, max_concurrency: int, timeout: float) -> subprocess.Popen:
    """``lsr serve`` over ``indexes`` on 127.0.0.1:``port``, once ``/healthz`` answers; an LsrError with its output if it does not."""
    import httpx

    command = [sys.executable, "-m", "lsr.cli", "serve", *(f"{name}={path}" for name, path in indexes.items()), "--host", HOST,
               "--port", str(port), "--max-concurrency", str(max_concurrency), "--quiet"]
    # the service dies with this process: a killed load test leaves no server behind
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **dying_with_parent())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = next((line for line in reversed(process.stdout.read().splitlines()) if line.strip()), "")
            raise LsrError(f"lsr serve stopped (exit status {process.returncode}) before answering: {last.strip()}")
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1.0).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_service(process)
    raise LsrError(f"lsr serve did not answer on {HOST}:{port} within {timeout:g} s")


def stop_service(process: subprocess.Popen) -> None:
    """Stop the service (SIGTERM, then SIGKILL after 10 s)."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _ask(client, index: str, query: str, k: int) -> tuple[float, list[str] | None]:
    """(seconds, hit ids) of one request; ids None for an error."""
    start = time.perf_counter()
    try:
        response = await client.get("/search", params={"q": query, "k": k, "index": index})
        ids = [hit["docid"] for hit in response.json()["hits"]] if response.status_code == 200 else None
    except Exception as error:  # a refused connection, a timeout, a malformed answer: all count as errors
        log.debug("request failed: %s", error)
        ids = None
    return time.perf_counter() - start, ids


async def _serial(base_url: str, requests: Sequence[tuple[str, str]], k: int) -> tuple[dict, dict[str, list[float]]]:
    import httpx

    answers, latencies = {}, {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        for index, query in requests:
            seconds, ids = await _ask(client, index, query, k)
            if ids is None:
                raise LsrError(f"the serial request for {query!r} on {index} failed: the service cannot be load-tested")
            answers[index, query] = ids
            latencies.setdefault(index, []).append(seconds)
    return answers, latencies


async def _load(base_url: str, requests: Sequence[tuple[str, str]], settings: LoadSettings, serial: dict) -> dict:
    import httpx

    latencies: dict[str, list[float]] = {}
    errors = mismatches = 0
    turn = 0
    limits = httpx.Limits(max_connections=settings.clients, max_keepalive_connections=settings.clients)
    end = time.monotonic() + settings.seconds

    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:
        async def worker():
            nonlocal turn, errors, mismatches
            while time.monotonic() < end:
                index, query = requests[turn % len(requests)]
                turn += 1
                seconds, ids = await _ask(client, index, query, settings.k)
                latencies.setdefault(index, []).append(seconds)
                if ids is None:
                    errors += 1
                elif ids != serial[index, query]:
                    mismatches += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(settings.clients)))
        elapsed = time.perf_counter() - started
    requests_done = sum(map(len, latencies.values()))
    return {"requests": requests_done, "seconds": round(elapsed, 2), "requests_per_s": round(requests_done / elapsed, 1),
            **_percentiles(latencies), "errors": errors, "mismatches": mismatches}


def _percentiles(latencies: dict[str, list[float]]) -> dict:
    """p50 / p95 / p99 in ms over all requests, and per index."""
    def of(values):
        values = np.asarray(values) * 1000
        return {f"p{p}_ms": round(float(np.percentile(values, p)), 2) for p in (50, 95, 99)}

    return {**of([x for values in latencies.values() for x in values]), "per_index": {index: of(values) for index, values in latencies.items()}}


def run_loadtest(indexes: dict[str, Path], queries: Sequence[str], settings: LoadSettings = LoadSettings()) -> dict:
    """Load-test ``lsr serve`` over ``indexes`` ({name: folder}) with ``queries`` on every index; the result as a dict."""
    if not queries:
        raise LsrError("the load test needs at least one query")
    requests = [(index, query) for query in queries for index in indexes]
    port = free_port()
    log.info("starting lsr serve on %s:%d over %s", HOST, port, ", ".join(indexes))
    process = start_service(indexes, port, settings.max_concurrency, settings.start_timeout)
    try:
        base_url = f"http://{HOST}:{port}"
        log.info("serial pass: %d requests, one at a time", len(requests))
        serial, serial_latencies = asyncio.run(_serial(base_url, requests, settings.k))
        log.info("load: %d clients for %g s", settings.clients, settings.seconds)
        load = asyncio.run(_load(base_url, requests, settings, serial))
    finally:
        stop_service(process)
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "settings": asdict(settings), "indexes": {name: str(path) for name, path in indexes.items()},
            "queries": len(queries), "serial": {"requests": len(requests), **_percentiles(serial_latencies)}, "load": load,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": [round(x, 2) for x in os.getloadavg()]}}


def markdown(result: dict) -> str:
    """The load test's result as a short markdown page."""
    from lsr.markdown import markdown_table

    settings, load, serial = result["settings"], result["load"], result["serial"]
    lines = [f"# lsr serve load test ({result['date']})", "",
             f"`lsr serve` on 127.0.0.1 over {', '.join(result['indexes'])}; {result['queries']} queries asked of every index, round robin; "
             f"k={settings['k']}; the service runs at most {settings['max_concurrency']} searches at once. "
             f"Machine: {result['machine']['cpus']} CPUs, "
             f"load average {result['machine']['load_average']}.", ""]
    header = ["phase", "clients", "requests", "requests/s", "p50 ms", "p95 ms", "p99 ms", "errors", "answers unlike the serial ones"]
    lines += markdown_table(header, [
        ["serial (one at a time)", 1, serial["requests"], "", serial["p50_ms"], serial["p95_ms"], serial["p99_ms"], 0, ""],
        [f"load ({load['seconds']:g} s)", settings["clients"], load["requests"], load["requests_per_s"], load["p50_ms"], load["p95_ms"],
         load["p99_ms"], load["errors"], load["mismatches"]]])
    lines += ["", "Per index (p50 / p99 ms):", ""]
    lines += markdown_table(["index", "serial", f"load, {settings['clients']} clients"], [
        [index, f"{serial['per_index'][index]['p50_ms']} / {serial['per_index'][index]['p99_ms']}",
         f"{load['per_index'][index]['p50_ms']} / {load['per_index'][index]['p99_ms']}"] for index in result["indexes"]])
    return "\n".join(lines) + "\n"


def write_result(result: dict, results_dir: Path) -> dict[str, Path]:
    """``loadtest.json`` and ``loadtest.md`` in ``results_dir``, each replaced whole."""
    import json

    from lsr.atomic import atomic_file

    paths = {"json": results_dir / "loadtest.json", "markdown": results_dir / "loadtest.md"}
    with atomic_file(paths["json"]) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    with atomic_file(paths["markdown"]) as tmp:
        tmp.write_text(markdown(result), encoding="utf-8")
    return paths
