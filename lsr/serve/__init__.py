"""``lsr serve``: a search service over lsr indexes (FastAPI) and a web page that shows why each document matched.

``create_app({name: index_dir})`` is the FastAPI app: ``GET /search``, ``POST /search`` (a batch),
``GET /indexes``, ``GET /healthz``, the OpenAPI page at ``/docs`` and the page at ``/``.
"""

from lsr.serve.app import MAX_BATCH, MAX_K, MAX_QUERY_CHARS, check_address, create_app
from lsr.serve.indexes import ServedIndex, open_indexes

__all__ = ["MAX_BATCH", "MAX_K", "MAX_QUERY_CHARS", "ServedIndex", "check_address", "create_app", "open_indexes"]
