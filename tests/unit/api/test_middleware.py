"""Client auth (api/middleware/auth.py) and error bodies (api/errors.py) through the app.

The other middleware have their own files in tests/unit/api/middleware/; these stay here
while auth and errors are rewritten (issue 24), to move beside them at merge.
"""

from __future__ import annotations

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
