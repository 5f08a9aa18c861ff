"""api/endpoints.py: the Starlette routes and the public paths, derived from a table."""

from __future__ import annotations

import httpx
import pytest
from cerebrum.api.endpoints import Endpoint, public_paths, starlette_routes
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

pytestmark = pytest.mark.anyio


async def named(request: Request) -> Response:
    return PlainTextResponse(request.url.path)


class Marked:
    """A route middleware that marks the answers it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def marked(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-shed", b"1")]
            await send(message)

        await self.app(scope, receive, marked)


TABLE = (
    Endpoint("GET", "/health", named, "health", public=True),
    Endpoint("POST", "/v1/complete", named, "complete", shed=True),
    Endpoint("GET", "/v1/models", named, "models"),
)


def test_each_endpoint_is_one_route_in_table_order_with_its_method():
    routes = starlette_routes(TABLE, [])
    assert [(r.path, r.methods) for r in routes] == [
        ("/health", {"GET", "HEAD"}),
        ("/v1/complete", {"POST"}),
        ("/v1/models", {"GET", "HEAD"}),
    ]


async def test_only_the_shed_endpoints_run_the_shed_middleware():
    app = Starlette(routes=starlette_routes(TABLE, [Middleware(Marked)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        marked = {e.path: "x-shed" in (await http.request(e.method, e.path)).headers for e in TABLE}
    assert marked == {"/health": False, "/v1/complete": True, "/v1/models": False}


def test_public_paths_are_those_of_the_endpoints_marked_public():
    assert public_paths(TABLE) == ("/health",)
