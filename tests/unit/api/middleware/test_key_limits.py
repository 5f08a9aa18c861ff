"""api/middleware/key_limits.py: 429 with Retry-After naming the key and its limit, through
the app, with two keys."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

KEYS = [
    {"name": "alice", "key": "k-alice", "requests_per_minute": 1},
    {"name": "bob", "key": "k-bob", "concurrent": 1},
]
BODY = {"prompt": "def f():", "max_tokens": 2}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_over_its_rate_gets_429_naming_it_and_another_key_is_served(app_client):
    async with app_client(client_keys=KEYS) as http:
        first = await http.post("/v1/complete", json=BODY, headers=auth("k-alice"))
        refused = await http.post("/v1/complete", json=BODY, headers=auth("k-alice"))
        other = await http.post("/v1/complete", json=BODY, headers=auth("k-bob"))
    assert first.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    error = refused.json()["error"]
    assert error["type"] == "rate_limited"
    assert "'alice'" in error["message"]
    assert "requests per minute" in error["message"]
    assert other.status_code == 200


async def test_a_key_at_its_concurrency_gets_429_and_takes_no_load_shedding_place(app_client):
    async with app_client(client_keys=KEYS) as http:
        svc = http._transport.app.state.services
        bob = svc.settings.clients()[1][1]
        svc.key_limits.admit(bob)  # bob's one place is taken
        refused = await http.post("/v1/complete", json=BODY, headers=auth("k-bob"))
        served = await http.post("/v1/complete", json=BODY, headers=auth("k-alice"))
        svc.key_limits.release(bob)
        again = await http.post("/v1/complete", json=BODY, headers=auth("k-bob"))
    assert refused.status_code == 429
    assert "concurrent" in refused.json()["error"]["message"]
    assert svc.limiter.in_flight == 0
    assert served.status_code == 200
    assert again.status_code == 200
    assert svc.key_limits.in_flight(bob) == 0


async def test_a_rate_limited_request_counts_as_shed_in_usage(app_client, tmp_path):
    from cerebrum.core.usage import read_rows, reading

    path = tmp_path / "usage.sqlite3"
    async with app_client(client_keys=KEYS, usage_db=str(path)) as http:
        for _ in range(3):
            await http.post("/v1/complete", json=BODY, headers=auth("k-alice"))
        store = http._transport.app.state.services.usage
        store.drain()
        store.flush()
    with reading(path) as db:
        rows = {(row.key, row.model): row for row in read_rows(db, "2000-01-01")}
    assert rows["alice", "-"].shed == 2
    assert rows["alice", "m1"].requests == 1
