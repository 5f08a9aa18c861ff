"""api/routes/models.py: the configured aliases and what each backend says of them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_models_lists_the_aliases_with_the_default_and_what_backends_report(client):
    body = (await client.get("/v1/models")).json()
    by_id = {model["id"]: model for model in body["data"]}
    assert set(by_id) == {"m1", "chat"}
    assert body["default"] == "m1"
    assert by_id["m1"]["default"] is True
    assert by_id["m1"]["loaded"] == {"backend 1": "loaded"}
    assert by_id["chat"]["loaded"] == {"backend 1": "absent"}  # the backend has no c1


async def test_an_unreachable_backend_makes_its_models_unknown_not_a_failure(
    app_client, fake_llama
):
    import httpx

    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake_llama.handle = refuse  # type: ignore[method-assign]
    async with app_client() as client:
        response = await client.get("/v1/models")
    assert response.status_code == 200
    assert response.json()["data"][0]["loaded"] == {"backend 1": None}
