"""api/middleware/load_shed.py: a bounded number in flight and in the queue; 503 beyond."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from cerebrum.api.middleware.load_shed import LoadShedMiddleware
from cerebrum.api.middleware.log_context import LogContextMiddleware
from cerebrum.api.routes import ENDPOINTS
from cerebrum.core.limiter import Limiter

pytestmark = pytest.mark.anyio

BODY = {"prompt": "def f():", "max_tokens": 2}


def asgi_app(gate: asyncio.Event):
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_load_shedding_answers_503_with_retry_after_beyond_the_limits():
    gate = asyncio.Event()
    limiter = Limiter(max_in_flight=1, max_queue=0, queue_timeout=1, retry_after=2)
    app = LogContextMiddleware(LoadShedMiddleware(asgi_app(gate), limiter))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        first = asyncio.create_task(http.post("/v1/complete"))
        await asyncio.sleep(0.05)
        shed = await http.post("/v1/complete")
        gate.set()
        assert (await first).status_code == 200
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "2"
    assert shed.json()["error"]["type"] == "overloaded"
    assert limiter.in_flight == 0


async def test_only_the_endpoints_marked_shed_are_shed(app_client):
    """With every place taken, each endpoint the table marks ``shed`` answers 503 at once
    (and is counted as received); every other endpoint answers as usual."""
    async with app_client(max_in_flight=1, max_queue=0) as http:
        svc = http._transport.app.state.services  # the app behind the test client
        await svc.limiter.acquire()
        answers = {
            endpoint.path: await http.request(endpoint.method, endpoint.path, json=BODY)
            for endpoint in ENDPOINTS
        }
        svc.limiter.release()
    shed = {path for path, response in answers.items() if response.status_code == 503}
    assert shed == {endpoint.path for endpoint in ENDPOINTS if endpoint.shed}
    for path in shed:
        assert answers[path].json()["error"]["type"] == "overloaded", path
    assert svc.stats.received_total == len(shed)
    assert svc.limiter.shed_total == len(shed)


async def test_a_wrong_method_on_a_shed_route_is_405_and_takes_no_place(app_client):
    async with app_client(max_in_flight=1, max_queue=0) as http:
        svc = http._transport.app.state.services
        await svc.limiter.acquire()
        response = await http.get("/v1/complete")
        svc.limiter.release()
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"
    assert svc.stats.received_total == 0
    assert svc.limiter.shed_total == 0


async def test_a_place_is_held_until_the_response_is_sent_in_full():
    gate, started = asyncio.Event(), asyncio.Event()
    limiter = Limiter(max_in_flight=1, max_queue=0, queue_timeout=1, retry_after=1)

    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        started.set()
        await gate.wait()
        await send({"type": "http.response.body", "body": b"last"})

    transport = httpx.ASGITransport(app=LoadShedMiddleware(stream, limiter))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = asyncio.create_task(http.get("/v1/complete/stream"))
        await started.wait()
        held = limiter.in_flight
        gate.set()
        await answer
    assert (held, limiter.in_flight) == (1, 0)


async def test_the_place_is_given_back_when_the_route_fails():
    limiter = Limiter(max_in_flight=1, max_queue=0, queue_timeout=1, retry_after=1)

    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("route failed")

    with pytest.raises(RuntimeError):
        await LoadShedMiddleware(broken, limiter)({"type": "http"}, None, None)  # type: ignore[arg-type]
    assert limiter.in_flight == 0


async def test_every_request_is_counted_the_shed_ones_too():
    gate = asyncio.Event()
    counted: list[None] = []
    limiter = Limiter(max_in_flight=1, max_queue=0, queue_timeout=1, retry_after=1)
    app = LoadShedMiddleware(asgi_app(gate), limiter, on_request=lambda: counted.append(None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        first = asyncio.create_task(http.post("/v1/complete"))
        await asyncio.sleep(0.05)
        shed = await http.post("/v1/complete")
        gate.set()
        await first
    assert shed.status_code == 503
    assert len(counted) == 2
