"""api/middleware/body_limit.py: the body read in full, within a size (413) and a time (408)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cerebrum.api.middleware.body_limit import BodyLimitMiddleware

from tests.unit.conftest import make_settings
from tests.unit.serving import connect, read_until_closed, serving

pytestmark = pytest.mark.anyio

BODY = {"prompt": "def f():", "max_tokens": 2}


async def test_declared_body_over_the_limit_is_413(app_client):
    async with app_client(max_body_bytes=1024) as http:
        response = await http.post("/v1/complete", content=b"x" * 2048)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


async def test_streamed_body_over_the_limit_is_413(app_client):
    async def chunks():
        for _ in range(4):
            yield b"x" * 512

    async with app_client(max_body_bytes=1024) as http:
        response = await http.post("/v1/complete", content=chunks())
    assert response.status_code == 413


async def test_slow_bodies_hold_no_load_shedding_place_and_get_408(fake_llama):
    settings = make_settings(max_in_flight=1, max_queue=0, body_timeout=1.0)
    head = b'POST /v1/complete HTTP/1.1\r\nHost: c\r\nContent-Length: 100\r\n\r\n{"pro'
    async with serving(settings, fake_llama.transport()) as address:
        slow = [await connect(address, head) for _ in range(4)]
        async with httpx.AsyncClient(base_url="http://{}:{}".format(*address)) as http:
            served = await http.post("/v1/complete", json=BODY)
        answers = [await read_until_closed(reader) for reader, _ in slow]
        for _, writer in slow:
            writer.close()
        async with httpx.AsyncClient(base_url="http://{}:{}".format(*address)) as http:
            stats = (await http.get("/v1/stats")).json()
    assert served.status_code == 200, served.text
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"CEREBRUM_BODY_TIMEOUT" in answer
    assert stats["requests"]["in_flight"] == 0


async def test_the_route_still_reads_the_body_and_sees_the_disconnect_after_it(client):
    response = await client.post("/v1/complete", json=BODY)
    assert response.status_code == 200
    assert response.json()["completion"]


def replaying(messages: list[dict[str, Any]]) -> Any:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    return receive


async def test_a_body_sent_in_pieces_reaches_the_app_as_one_message():
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(await receive())

    pieces = [
        {"type": "http.request", "body": b'{"pro', "more_body": True},
        {"type": "http.request", "body": b'mpt": 1}', "more_body": False},
    ]
    await BodyLimitMiddleware(app, max_bytes=100)(
        {"type": "http", "headers": []},
        replaying(pieces),
        None,  # type: ignore[arg-type]
    )
    assert seen == [{"type": "http.request", "body": b'{"prompt": 1}', "more_body": False}]


async def test_a_client_that_leaves_mid_body_is_not_answered_and_the_app_not_called():
    sent: list[dict[str, Any]] = []
    called: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        called.append(True)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    messages = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    await BodyLimitMiddleware(app, max_bytes=100)(
        {"type": "http", "headers": []}, replaying(messages), send
    )
    assert (called, sent) == ([], [])


async def test_the_413_names_the_setting_that_bounds_the_body(app_client):
    async with app_client(max_body_bytes=1024) as http:
        response = await http.post("/v1/complete", content=b"x" * 2048)
    assert "CEREBRUM_MAX_BODY_BYTES" in response.json()["error"]["message"]
