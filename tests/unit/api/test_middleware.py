"""api/middleware: request id, client auth, body limit, load shedding, error bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from cerebrum.api.middleware.auth import is_loopback
from cerebrum.api.middleware.load_shed import LoadShedMiddleware
from cerebrum.api.middleware.log_context import LogContextMiddleware
from cerebrum.api.middleware.request_id import RequestIdMiddleware
from cerebrum.core.limiter import Limiter

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


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses_are_recognised(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.2", "100.64.0.1", "::ffff:10.0.0.1", "", None, "x"])
def test_other_addresses_are_not_loopback(host):
    assert not is_loopback(host)


async def test_without_client_keys_loopback_clients_are_served(app_client):
    async with app_client(client_ip="127.0.0.1") as http:
        assert (await http.get("/v1/stats")).status_code == 200


async def test_without_client_keys_other_clients_are_refused_with_a_reason(app_client):
    async with app_client(client_ip="192.0.2.7") as http:
        response = await http.get("/v1/stats")
    assert response.status_code == 403
    assert "CEREBRUM_CLIENT_KEYS" in response.json()["error"]["message"]


async def test_with_client_keys_a_missing_key_is_401(app_client):
    async with app_client(client_keys=["k1"]) as http:
        response = await http.get("/v1/stats")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_with_client_keys_a_wrong_key_is_401_even_from_loopback(app_client):
    async with app_client(client_keys=["k1"]) as http:
        response = await http.get("/v1/stats", headers={"Authorization": "Bearer k2"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid API key"


async def test_with_client_keys_any_configured_key_is_accepted(app_client):
    async with app_client(client_keys=["k1", "k2"], client_ip="192.0.2.7") as http:
        response = await http.get("/v1/stats", headers={"Authorization": "Bearer k2"})
    assert response.status_code == 200


async def test_health_is_open_without_a_key(app_client):
    async with app_client(client_keys=["k1"], client_ip="192.0.2.7") as http:
        assert (await http.get("/health")).status_code == 200


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


async def test_validation_error_names_the_field(client):
    response = await client.post("/v1/complete", json={"prompt": "x", "max_tokens": 4097})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "type": "validation_error",
            "message": "max_tokens: Input should be less than or equal to 4096",
            "field": "max_tokens",
        }
    }


async def test_validation_error_names_a_nested_field(client):
    response = await client.post("/v1/complete", json={"prompt": "x", "context": [{"path": "a"}]})
    assert response.json()["error"]["field"] == "context.0.text"


async def test_unknown_fields_are_refused(client):
    response = await client.post("/v1/complete", json={"prompt": "x", "top_k": 3})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "type": "validation_error", "message": "top_k: unknown field", "field": "top_k",
    }  # fmt: skip


async def test_strings_are_not_coerced_to_numbers(client):
    response = await client.post("/v1/complete", json={"prompt": "x", "max_tokens": "5"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "max_tokens"


async def test_invalid_json_is_a_400(client):
    response = await client.post("/v1/complete", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_json"


async def test_unknown_path_is_a_json_404(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


async def test_wrong_method_is_a_json_405(client):
    response = await client.get("/v1/complete")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"


def asgi_app(gate: asyncio.Event):
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_load_shedding_answers_503_with_retry_after_beyond_the_limits():
    gate = asyncio.Event()
    limiter = Limiter(max_in_flight=1, max_queue=0, queue_timeout=1, retry_after=2)
    app = RequestIdMiddleware(LoadShedMiddleware(asgi_app(gate), limiter))
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
    from cerebrum.api.routes import ENDPOINTS

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


async def test_only_the_endpoints_marked_public_are_served_without_a_key(app_client):
    from cerebrum.api.routes import ENDPOINTS

    async with app_client(client_keys=["k1"]) as http:
        statuses = {
            endpoint.path: (await http.request(endpoint.method, endpoint.path)).status_code
            for endpoint in ENDPOINTS
        }
    refused = {path for path, status in statuses.items() if status == 401}
    assert refused == {endpoint.path for endpoint in ENDPOINTS if not endpoint.public}
    assert refused


async def test_unhandled_error_becomes_a_json_500_with_the_request_id(caplog):
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    app = RequestIdMiddleware(LogContextMiddleware(broken))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/x", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "r-500"
    assert json.loads(response.text)["error"]["type"] == "internal_error"
    assert "boom" not in response.text


async def test_slow_bodies_hold_no_load_shedding_place_and_get_408(fake_llama):
    from tests.unit.conftest import make_settings
    from tests.unit.serving import connect, read_until_closed, serving

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


NAMED_KEYS = [
    {"name": "alice", "key": "k-alice"},
    {"name": "ops", "key": "k-ops", "admin": True},
]


async def test_an_admitted_request_carries_the_key_s_name_never_the_key(app_client):
    import io
    import logging

    from cerebrum.logs import JsonFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)  # formats as the record is logged, in its context
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("cerebrum.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        async with app_client(client_keys=NAMED_KEYS) as http:
            response = await http.post(
                "/v1/complete", json=BODY, headers={"Authorization": "Bearer k-alice"}
            )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert response.status_code == 200
    lines = out.getvalue().splitlines()
    assert any('"key":"alice"' in line for line in lines), lines
    assert not any("k-alice" in line for line in lines)


def _admin_app(keys: list[Any]) -> httpx.AsyncClient:
    """AuthMiddleware alone, around an app with one admin path (/admin) and one other."""
    from cerebrum.api.middleware.auth import AuthMiddleware
    from cerebrum.settings import ClientKeySetting
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def who(request: Any) -> PlainTextResponse:
        return PlainTextResponse(request.state.client)

    clients = [(entry["key"], ClientKeySetting(**entry).client()) for entry in keys]
    app = Starlette(
        routes=[Route("/admin", who), Route("/other", who)],
        middleware=[Middleware(AuthMiddleware, keys=clients, admin_paths=["/admin"])],
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://cerebrum.test")


async def test_an_admin_path_refuses_a_key_that_is_not_admin_naming_it():
    async with _admin_app(NAMED_KEYS) as http:
        refused = await http.get("/admin", headers={"Authorization": "Bearer k-alice"})
        other = await http.get("/other", headers={"Authorization": "Bearer k-alice"})
        served = await http.get("/admin", headers={"Authorization": "Bearer k-ops"})
    assert refused.status_code == 403
    assert "'alice' is not an admin key" in refused.json()["error"]["message"]
    assert other.text == "alice"
    assert served.text == "ops"


async def test_loopback_without_keys_is_admin_and_named_loopback():
    async with _admin_app([]) as http:
        response = await http.get("/admin")
    assert response.text == "loopback"


async def test_a_browser_sends_the_key_as_the_basic_password_and_is_asked_so():
    import base64

    basic = "Basic " + base64.b64encode(b"anyone:k-ops").decode()
    wrong = "Basic " + base64.b64encode(b"anyone:nope").decode()
    async with _admin_app(NAMED_KEYS) as http:
        served = await http.get("/admin", headers={"Authorization": basic})
        asked = await http.get("/admin", headers={"Accept": "text/html", "Authorization": wrong})
        api = await http.get("/admin")
    assert served.text == "ops"
    assert asked.status_code == 401
    assert asked.headers["www-authenticate"].startswith('Basic realm="cerebrum"')
    assert api.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + "YWJj", "Basic ", "Token k-ops"])
async def test_malformed_credentials_are_401_not_a_crash(header):
    async with _admin_app(NAMED_KEYS) as http:
        response = await http.get("/admin", headers={"Authorization": header})
    assert response.status_code == 401
