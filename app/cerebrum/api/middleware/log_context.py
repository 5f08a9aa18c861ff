"""Log context: the request id, one JSON access line per request, a JSON 500 for anything
unhandled.

The request id is the client's ``X-Request-ID`` when it is sane, else a new one; it is on
every response (``X-Request-ID``), in ``request.state.request_id`` and on every log line
written while the request runs. Routes add fields to the access line with
``cerebrum.logs.annotate(model=..., backend=...)``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebrum import logs
from cerebrum.api.errors import response_for

log = logging.getLogger("cerebrum.access")

HEADER = "x-request-id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


class LogContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(HEADER)
        request_id = offered if offered and _ACCEPTABLE.match(offered) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        client = scope.get("client")
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with logs.bind(
            request_id=request_id,
            method=scope["method"],
            path=scope["path"],
            client=client[0] if client else None,
        ) as context:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                log.exception("unhandled error")
                if status is not None:
                    raise
                status = 500
                await response_for(exc)(scope, receive, send_with_id)
            finally:
                context["status"] = status
                context["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
                log.info("request")
