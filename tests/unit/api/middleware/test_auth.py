"""api/middleware/auth.py: client keys (bare and named), loopback-only keyless mode, admin
paths, and the error bodies a refused client gets, through the app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cerebrum.api.middleware.auth import is_loopback

pytestmark = pytest.mark.anyio

BODY = {"prompt": "def f():", "max_tokens": 2}


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
