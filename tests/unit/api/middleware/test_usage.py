"""api/middleware/usage.py: each inference request's usage, per key name and model, through
the app (the fake llama-server of tests/unit/fakes.py behind it)."""

from __future__ import annotations

import pytest
from cerebrum.core.usage import read_rows, reading

pytestmark = pytest.mark.anyio

KEYS = [{"name": "alice", "key": "k-alice"}, {"name": "bob", "key": "k-bob"}]
BODY = {"prompt": "def f():", "max_tokens": 2, "model": "m1"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def usage_rows(http, path):  # type: ignore[no-untyped-def]
    store = http._transport.app.state.services.usage
    store.drain()
    store.flush()
    with reading(path) as db:
        return {(row.key, row.model): row for row in read_rows(db, "2000-01-01")}


async def test_a_request_is_recorded_under_its_key_s_name_and_model(app_client, tmp_path):
    path = tmp_path / "usage.sqlite3"
    async with app_client(client_keys=KEYS, usage_db=str(path)) as http:
        for _ in range(2):
            response = await http.post("/v1/complete", json=BODY, headers=auth("k-alice"))
            assert response.status_code == 200
        found = usage_rows(http, path)
    row = found["alice", "m1"]
    assert row.requests == 2
    assert row.completion_tokens > 0
    assert row.errors == 0
    assert row.ttft_p50_ms is not None
    assert ("bob", "m1") not in found
    assert b"k-alice" not in path.read_bytes()


async def test_an_invalid_request_counts_as_an_error_without_a_model(app_client, tmp_path):
    path = tmp_path / "usage.sqlite3"
    async with app_client(client_keys=KEYS, usage_db=str(path)) as http:
        response = await http.post("/v1/complete", json={"max_tokens": -1}, headers=auth("k-bob"))
        assert response.status_code == 422
        found = usage_rows(http, path)
    assert found["bob", "-"].errors == 1


async def test_a_request_the_load_shedder_refuses_counts_as_shed(app_client, tmp_path):
    path = tmp_path / "usage.sqlite3"
    async with app_client(
        client_keys=KEYS, usage_db=str(path), max_in_flight=1, max_queue=0
    ) as http:
        svc = http._transport.app.state.services
        await svc.limiter.acquire()
        response = await http.post("/v1/complete", json=BODY, headers=auth("k-bob"))
        svc.limiter.release()
        found = usage_rows(http, path)
    assert response.status_code == 503
    assert found["bob", "-"].shed == 1
    assert found["bob", "-"].requests == 0


async def test_health_says_whether_usage_is_written(app_client, tmp_path):
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"garbage" * 200)
    async with app_client(usage_db=str(path)) as http:
        await http.post("/v1/complete", json=BODY)
        store = http._transport.app.state.services.usage
        store.drain()
        store.flush()
        failing = (await http.get("/health")).json()
        second = await http.post("/v1/complete", json=BODY)
    assert failing["status"] == "ok"
    assert failing["usage"]["status"] == "failing"
    assert "not a database" in failing["usage"]["detail"]
    assert second.status_code == 200  # served all the same


async def test_health_says_usage_is_off_without_a_database(client):
    assert (await client.get("/health")).json()["usage"] == {"status": "off", "dropped": 0}


FIM_MODEL = {
    "alias": "fim",
    "model": "m1",
    "context_size": 2048,
    "format": "fim",
    "fim": {"prefix": "<P>", "suffix": "<S>", "middle": "<M>"},
}


def infill(prefix: str, prompt: str) -> dict[str, object]:
    return {"input_prefix": prefix, "prompt": prompt, "input_suffix": "\n", "n_predict": 8}


async def test_an_accepted_infill_suggestion_is_counted_for_its_key_and_model(
    app_client, fake_llama, tmp_path
):
    path = tmp_path / "usage.sqlite3"
    fake_llama.tokens = [" a", " +", " b"]
    async with app_client(client_keys=KEYS, usage_db=str(path), models=[FIM_MODEL]) as http:
        shown = await http.post(
            "/infill", json=infill("def add(a, b):\n", "    return"), headers=auth("k-alice")
        )
        assert shown.json()["content"] == " a + b"
        fake_llama.tokens = ["\n"]
        for prompt in ("    return a + b", "    return a + b\n"):  # speculative, then typed
            response = await http.post(
                "/infill", json=infill("def add(a, b):\n", prompt), headers=auth("k-alice")
            )
            assert response.status_code == 200
        found = usage_rows(http, path)
    row = found["alice", "fim"]
    assert (row.shown, row.accepted_whole, row.accepted_line, row.ignored) == (1, 1, 0, 0)
    assert row.requests == 3


async def test_a_request_superseded_while_its_prompt_is_built_counts_as_superseded(
    app_client, tmp_path, monkeypatch
):
    """Superseded before any generation (no tracker to say so): the answer's error kind
    tells, and it is not an error."""
    from cerebrum.api import prompting
    from cerebrum.core.errors import SupersededError

    async def superseded(*args: object) -> None:
        raise SupersededError()

    monkeypatch.setattr(prompting, "build", superseded)
    path = tmp_path / "usage.sqlite3"
    async with app_client(client_keys=KEYS, usage_db=str(path)) as http:
        response = await http.post("/v1/complete", json=BODY, headers=auth("k-bob"))
        found = usage_rows(http, path)
    assert response.status_code == 409
    row = next(row for (key, _), row in found.items() if key == "bob")
    assert (row.superseded, row.errors) == (1, 0)
