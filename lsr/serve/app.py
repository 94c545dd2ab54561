"""The FastAPI app of ``lsr serve``: a JSON search API and the page at ``/``.

Searches run on FastAPI's worker threads (pyjnius attaches each to the JVM on its first call), at most
``max_concurrency`` at a time; a request that waits longer than ``queue_seconds`` for a turn gets 503.
Every error is a JSON ``{"error": "..."}`` with a 4xx status (5xx only for a failure of lsr itself), and
no request stops the server.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from importlib.resources import files
from typing import Mapping

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lsr.errors import LsrError
from lsr.serve.indexes import ServedIndex, open_indexes

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2_000
"""The longest query accepted (characters): longer ones get 413."""
MAX_K = 1_000
"""The most hits a query may ask for."""
MAX_BATCH = 100
"""The most queries in one ``POST /search``."""


class Term(BaseModel):
    """One query term that a hit holds: contribution = query weight x document weight (index units)."""

    term: str
    query_weight: float
    document_weight: float
    contribution: float
    lexical: bool = Field(description="a BM25 channel term (an analysed word) of an impact index")
    expansion: bool | None = Field(description="a learned term that is not among the document's own tokens (None: unknown)")


class SearchHit(BaseModel):
    """One ranked document."""

    rank: int
    docid: str
    score: float
    title: str | None
    snippet: str | None
    terms: list[Term] | None = Field(description="why it matched (sparse indexes, with explain=true); None otherwise")


class SearchResult(BaseModel):
    """The hits of one query on one index."""

    index: str
    query: str
    k: int
    took_ms: float
    hits: list[SearchHit]
    note: str | None = None


class BatchRequest(BaseModel):
    """``POST /search``: several queries on one index."""

    queries: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    k: int = Field(10, ge=1, le=MAX_K)
    index: str | None = None
    explain: bool = False


class BatchResult(BaseModel):
    """The results of ``POST /search``, in the order of its queries."""

    results: list[SearchResult]


def check_address(host: str, port: int) -> None:
    """An LsrError naming ``host:port`` unless a service could listen there now: the host resolves to an address of this
    machine and the port is free (uvicorn itself logs such failures and exits with status 3)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        socket.create_server((host, port), family=family).close()
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise LsrError(f"cannot serve on {host}:{port}: {reason} (--host: an address of this machine or a name of one; "
                       "--port: a free port)") from None


def create_app(indexes: Mapping[str, str] | Mapping[str, ServedIndex], max_concurrency: int = 8, queue_seconds: float = 30.0) -> FastAPI:
    """The service over ``indexes`` ({name: index folder}, or already opened :class:`ServedIndex` es, which the app then closes
    when it stops). The first index is the default of requests that name none."""
    if max_concurrency < 1:
        raise LsrError(f"max_concurrency must be at least 1, got {max_concurrency!r}")
    served = dict(indexes) if all(isinstance(v, ServedIndex) for v in indexes.values()) else open_indexes(indexes)
    if not served:
        raise LsrError("give at least one index to serve")
    default = next(iter(served))
    turns = threading.BoundedSemaphore(max_concurrency)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        for index in served.values():
            index.close()

    app = FastAPI(title="lsr search", version=_version(), lifespan=lifespan,
                  description="Learned sparse retrieval over Lucene: BM25, SPLADE, inference-free, dense and hybrid indexes. "
                              "Sparse hits can be explained term by term (explain=true).")

    @contextmanager
    def turn():
        if not turns.acquire(timeout=queue_seconds):
            raise HTTPException(503, f"the server is busy ({max_concurrency} searches running for over {queue_seconds:g} s); try again")
        try:
            yield
        finally:
            turns.release()

    def pick(name: str | None) -> ServedIndex:
        if name is None or name == "":
            return served[default]
        if name not in served:
            raise HTTPException(404, f"unknown index {name!r}; this server has: {', '.join(served)}")
        return served[name]

    def check(query: str) -> str:
        if not query.strip():
            raise HTTPException(422, "the query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise HTTPException(413, f"the query has {len(query)} characters; at most {MAX_QUERY_CHARS} are accepted")
        return query

    def run(index: ServedIndex, query: str, k: int, explain: bool) -> SearchResult:
        start = time.perf_counter()
        with turn():
            hits = index.searcher.search(query, k)
            terms = index.explain(query, [hit.docid for hit in hits]) if explain else None
        took = (time.perf_counter() - start) * 1000
        rows = []
        for rank, hit in enumerate(hits, start=1):
            title, snippet = index.documents.title_and_snippet(hit.docid)
            rows.append(SearchHit(rank=rank, docid=hit.docid, score=hit.score, title=title, snippet=snippet,
                                  terms=None if terms is None else terms.get(hit.docid, [])))
        note = index.documents.note
        if explain and terms is None:
            note = "; ".join(filter(None, [note, f"a {index.manifest['kind']} index has no term-level explanation"]))
        return SearchResult(index=index.name, query=query, k=k, took_ms=round(took, 3), hits=rows, note=note)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(files("lsr.serve").joinpath("page.html").read_text(encoding="utf-8"))

    @app.get("/healthz")
    def healthz() -> dict:
        """Liveness: ``{"status": "ok", "indexes": N}``."""
        return {"status": "ok", "indexes": len(served)}

    @app.get("/indexes")
    def list_indexes() -> list[dict]:
        """Every served index: name, kind, model, documents, size on disk, dataset, settings, whether it explains hits and shows texts."""
        return [index.info() for index in served.values()]

    @app.get("/search", response_model=SearchResult)
    def search(q: str = Query(..., description="the query text"), k: int = Query(10, ge=1, le=MAX_K, description=f"hits, 1 to {MAX_K}"),
               index: str | None = Query(None, description="an index name from /indexes (default: the first)"),
               explain: bool = Query(False, description="explain each hit term by term (sparse indexes)")) -> SearchResult:
        """The top ``k`` hits of one query."""
        return run(pick(index), check(q), k, explain)

    @app.post("/search", response_model=BatchResult)
    def batch(request: BatchRequest) -> BatchResult:
        """The top ``k`` hits of each query of a batch (at most 100), in order."""
        index = pick(request.index)
        queries = [check(query) for query in request.queries]
        return BatchResult(results=[run(index, query, request.k, request.explain) for query in queries])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_problem(problem) for problem in error.errors()]
        return JSONResponse({"error": "; ".join(problems) or "invalid request"}, status_code=422)

    @app.exception_handler(LsrError)
    async def refused(_request: Request, error: LsrError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(Exception)
    async def failed(_request: Request, error: Exception) -> JSONResponse:
        log.exception("a request failed")
        return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)

    return app


def _problem(problem: dict) -> str:
    """One validation problem as ``where: what`` (``k: Input should be ...``), or the parser's complaint about a malformed body."""
    if problem.get("type") == "json_invalid":
        return f"the request body is not valid JSON ({problem.get('ctx', {}).get('error', problem['msg'])} at character {problem['loc'][-1]})"
    where = ".".join(str(part) for part in problem["loc"] if part not in ("query", "body"))
    return f"{where or 'request body'}: {problem['msg']}"


def _version() -> str:
    from lsr.version import __version__

    return __version__
