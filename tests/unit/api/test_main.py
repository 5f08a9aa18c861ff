"""api/main.py: the app's middleware order and its exception handlers, seen from a client."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_a_request_refused_for_its_key_still_carries_its_request_id(app_client):
    async with app_client(client_keys=["k1"]) as http:
        response = await http.get("/v1/models", headers={"X-Request-ID": "no-key-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "no-key-1"


async def test_a_client_without_a_key_is_refused_before_its_body_is_read(app_client):
    async with app_client(client_keys=["k1"], max_body_bytes=1024) as http:
        response = await http.post("/v1/complete", content=b"x" * 2048)
    assert response.status_code == 401


async def test_a_prompt_too_large_for_the_model_is_a_400_naming_the_prompt(client):
    response = await client.post("/v1/complete", json={"prompt": "x = 1\n" * 4000, "model": "m1"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "prompt_too_large"
    assert response.json()["error"]["field"] == "prompt"
