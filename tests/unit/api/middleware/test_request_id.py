"""api/middleware/request_id.py: the client's X-Request-ID when it is safe, else a new one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cerebrum import logs
from cerebrum.api.middleware.request_id import RequestIdMiddleware

pytestmark = pytest.mark.anyio

BODY = {"prompt": "def f():", "max_tokens": 2}


async def test_request_id_is_generated_when_absent(client):
    response = await client.get("/health")
    assert len(response.headers["x-request-id"]) == 32


async def test_request_id_from_the_client_is_kept(client):
    response = await client.post("/v1/complete", json=BODY, headers={"X-Request-ID": "abc-1"})
    assert response.headers["x-request-id"] == "abc-1"
    assert response.json()["request_id"] == "abc-1"


async def test_unsafe_request_id_is_replaced(client):
    response = await client.get("/health", headers={"X-Request-ID": "bad id <script>"})
    assert response.headers["x-request-id"] != "bad id <script>"
    assert len(response.headers["x-request-id"]) == 32


async def test_request_id_is_on_error_responses_too(client):
    response = await client.post("/v1/complete", content=b"{", headers={"X-Request-ID": "e-1"})
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "e-1"


async def test_the_id_is_in_the_log_context_while_the_request_runs():
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append((logs.request_context.get() or {}).get("request_id"))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=RequestIdMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await http.get("/x", headers={"X-Request-ID": "log-7"})
    assert seen == ["log-7"]


async def test_an_over_long_request_id_is_replaced(client):
    response = await client.get("/health", headers={"X-Request-ID": "a" * 129})
    assert response.headers["x-request-id"] != "a" * 129
