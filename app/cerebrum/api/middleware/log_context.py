"""Log context: one JSON access line per request, and a JSON 500 for anything unhandled.

Routes add fields to the line with ``cerebrum.logs.annotate(model=..., backend=...)``.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebrum import logs
from cerebrum.api.errors import response_for

log = logging.getLogger("cerebrum.access")


class LogContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        started = time.perf_counter()
        status: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with logs.bind(
            method=scope["method"], path=scope["path"], client=client[0] if client else None
        ) as context:
            try:
                await self.app(scope, receive, send_with_status)
            except Exception as exc:
                log.exception("unhandled error")
                if status is not None:
                    raise
                status = 500
                await response_for(exc)(scope, receive, send)
            finally:
                context["status"] = status
                context["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
                log.info("request")
