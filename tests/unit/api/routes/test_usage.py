"""api/routes/usage.py: GET /v1/usage, admin keys only, from the usage database."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

KEYS = [{"name": "alice", "key": "k-alice"}, {"name": "ops", "key": "k-ops", "admin": True}]
ALICE = {"Authorization": "Bearer k-alice"}
OPS = {"Authorization": "Bearer k-ops"}


async def test_usage_lists_rows_per_key_and_model_for_an_admin_key(app_client, tmp_path):
    path = tmp_path / "usage.sqlite3"
    async with app_client(client_keys=KEYS, usage_db=str(path)) as http:
        await http.post("/v1/complete", json={"prompt": "x", "max_tokens": 2}, headers=ALICE)
        store = http._transport.app.state.services.usage
        store.drain()
        store.flush()
        body = (await http.get("/v1/usage?days=14&model=m1", headers=OPS)).json()
        refused = await http.get("/v1/usage", headers=ALICE)
    (row,) = body["rows"]
    assert (row["key"], row["model"], row["requests"]) == ("alice", "m1", 1)
    assert body["usage"]["status"] == "ok"
    assert refused.status_code == 403


async def test_an_unknown_key_name_is_400_naming_the_field(app_client, tmp_path):
    async with app_client(client_keys=KEYS, usage_db=str(tmp_path / "u.db")) as http:
        response = await http.get("/v1/usage?key=mallory", headers=OPS)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "key"
    assert "alice" in response.json()["error"]["message"]


@pytest.mark.parametrize("query", ["days=0", "days=-3", "days=x", "colour=red"])
async def test_bad_query_parameters_are_422_naming_the_field(app_client, query):
    async with app_client(client_keys=KEYS) as http:
        response = await http.get(f"/v1/usage?{query}", headers=OPS)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == query.split("=")[0]


async def test_without_a_database_usage_says_it_is_off(app_client):
    async with app_client(client_keys=KEYS) as http:
        body = (await http.get("/v1/usage", headers=OPS)).json()
    assert body["rows"] == []
    assert body["usage"]["status"] == "off"


async def test_per_key_series_are_in_metrics_by_name(app_client):
    async with app_client(client_keys=KEYS) as http:
        await http.post("/v1/complete", json={"prompt": "x", "max_tokens": 2}, headers=ALICE)
        text = (await http.get("/metrics", headers=OPS)).text
    assert 'cerebrum_key_requests_total{key="alice",model="m1"} 1.0' in text
    assert "k-alice" not in text
