"""GET /v1/usage (admin keys): usage per client key name, model and UTC day, from the database.

The database is read read-only in a worker thread, so a slow disk never stalls a stream;
what the writer has not flushed yet (at most its flush interval) is not in it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api.errors import error_response
from cerebrum.api.responses import JSONResponse
from cerebrum.api.routes.health import usage_health
from cerebrum.api.schemas import UsageQuery, UsageResponse
from cerebrum.api.services import services
from cerebrum.core.clients import LOOPBACK
from cerebrum.core.usage import Row, read_rows, reading, today


async def usage(request: Request) -> Response:
    svc = services(request)
    query = UsageQuery.model_validate(dict(request.query_params))
    since = today(time.time() - (query.days - 1) * 86_400)
    store = svc.usage
    rows: list[Row] = []
    if store is not None and store.path.exists():
        try:
            rows = await anyio.to_thread.run_sync(_read, store.path, since, query)
        except sqlite3.Error as exc:
            return error_response(
                503, "usage_unavailable", f"the usage database cannot be read: {exc}"
            )
    known = {client.name for _, client in svc.settings.clients()} | {LOOPBACK.name}
    if query.key is not None and not rows and query.key not in known:
        return error_response(
            400,
            "unknown_key",
            f"key: no key is named {query.key!r}; configured: {', '.join(sorted(known))}",
            field="key",
        )
    body = UsageResponse(
        since=since,
        usage=usage_health(svc),
        rows=rows,
        recent_errors=list(svc.key_totals.recent_errors),
    )
    return JSONResponse(body.model_dump(exclude_none=False))


def _read(path: Path, since: str, query: UsageQuery) -> list[Row]:
    with reading(path) as db:
        return read_rows(db, since, query.key, query.model)
