"""Limits per client key (``core/key_limits.py``) where a request is admitted: a shed route's
middleware, after the caller is known (auth) and before the load shedder, so a key over its
own limit gets 429 with Retry-After at once and takes no load-shedding place."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from cerebrum.api.errors import error_response
from cerebrum.core import usage
from cerebrum.core.clients import Client, Limits
from cerebrum.core.key_limits import KeyLimits


class KeyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: KeyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = scope.get("state", {}).get("caller")
        if not isinstance(caller, Client) or caller.limits == Limits():
            await self.app(scope, receive, send)
            return
        refusal = self.limits.admit(caller)
        if refusal is not None:
            usage.mark_shed()
            response = error_response(
                429,
                "rate_limited",
                refusal.message,
                headers={"Retry-After": str(refusal.retry_after)},
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limits.release(caller)
