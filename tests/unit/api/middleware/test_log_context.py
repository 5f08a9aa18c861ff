"""api/middleware/log_context.py: the request id, one access line per request, a JSON 500
for the unhandled."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cerebrum import logs
from cerebrum.api.middleware.log_context import LogContextMiddleware

pytestmark = pytest.mark.anyio


class Lines(logging.Handler):
    """The access logger's lines, formatted as the service writes them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("cerebrum.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def answering(status: int) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        logs.annotate(model="m1")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get(path)


async def test_unhandled_error_becomes_a_json_500_with_the_request_id(caplog):
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    app = LogContextMiddleware(broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/x", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "r-500"
    assert json.loads(response.text)["error"]["type"] == "internal_error"
    assert "boom" not in response.text


async def test_each_request_is_logged_once_with_method_path_client_status_and_duration(access):
    await get(LogContextMiddleware(answering(404)), "/v1/models")
    assert len(access.lines) == 1
    line = access.lines[0]
    assert (line["msg"], line["method"], line["path"]) == ("request", "GET", "/v1/models")
    assert (line["client"], line["status"]) == ("10.1.2.3", 404)
    assert line["duration_ms"] >= 0


async def test_fields_a_route_annotates_are_on_its_access_line(access):
    await get(LogContextMiddleware(answering(200)), "/health")
    assert access.lines[0]["model"] == "m1"


async def test_an_error_after_the_response_started_is_raised_not_answered_again(access):
    async def fails_mid_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-body")

    with pytest.raises(RuntimeError, match="mid-body"):
        await get(LogContextMiddleware(fails_mid_body), "/x")
    assert access.lines[-1]["status"] == 200


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

    transport = httpx.ASGITransport(app=LogContextMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await http.get("/x", headers={"X-Request-ID": "log-7"})
    assert seen == ["log-7"]


async def test_an_over_long_request_id_is_replaced(client):
    response = await client.get("/health", headers={"X-Request-ID": "a" * 129})
    assert response.headers["x-request-id"] != "a" * 129
