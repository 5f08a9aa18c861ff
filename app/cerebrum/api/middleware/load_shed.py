"""Load shedding for the inference routes: a bounded number in flight, a bounded queue.

A route's own middleware (``Route(..., middleware=[...])``, from the endpoints marked
``shed``): it sees only requests whose path and method matched, counts each one
(``on_request``) and holds its place until the response has been sent in full, so a long
stream counts for its whole life. Beyond the queue the answer is 503 with Retry-After, at
once.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from cerebrum.api.errors import response_for
from cerebrum.core import usage
from cerebrum.core.errors import OverloadedError
from cerebrum.core.limiter import Limiter


class LoadShedMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.on_request = on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.on_request is not None:
            self.on_request()
        try:
            await self.limiter.acquire()
        except OverloadedError as exc:
            usage.mark_shed()
            await response_for(exc)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release()
