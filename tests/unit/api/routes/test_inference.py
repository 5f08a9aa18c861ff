"""api/routes/inference.py and friends, on the ASGI app with a fake llama-server."""

from __future__ import annotations

import asyncio
import json

import pytest
from cerebrum.sse_reader import EventParser

pytestmark = pytest.mark.anyio


def events(text: str) -> list[dict]:
    return [json.loads(data) for data in EventParser().feed(text.encode())]


async def test_complete_returns_text_counts_and_pipeline(client, fake_llama):
    response = await client.post("/v1/complete", json={"prompt": "def f", "max_tokens": 3})
    body = response.json()
    assert response.status_code == 200
    assert body["completion"] == "def f():"
    assert (body["model"], body["backend_model"]) == ("m1", "m1")
    assert (body["completion_tokens"], body["total_tokens"], body["prompt_tokens"]) == (3, 3, 3)
    assert body["finish_reason"] == "length"
    assert {"prompt_tokens", "budget_tokens", "chunks_used", "chunks_dropped"} <= set(
        body["pipeline"]
    )
    assert fake_llama.bodies[0]["model"] == "m1"
    assert fake_llama.bodies[0]["n_predict"] == 3


async def test_stream_emits_token_events_then_one_done_event(client):
    response = await client.post("/v1/complete/stream", json={"prompt": "def f", "max_tokens": 3})
    got = events(response.text)
    assert got[:3] == [
        {"token": "def", "total_tokens": 1},
        {"token": " f", "total_tokens": 2},
        {"token": "():", "total_tokens": 3},
    ]
    assert got[3]["done"] is True
    assert got[3]["total_tokens"] == 3
    assert "error" not in got[3]
    assert len(got) == 4


async def test_stream_failure_after_tokens_ends_with_one_error_event(client, fake_llama):
    fake_llama.plan = ["break"]
    response = await client.post("/v1/complete/stream", json={"prompt": "x", "max_tokens": 5})
    got = events(response.text)
    assert response.status_code == 200
    assert [e.get("token") for e in got[:-1]] == ["def", " f"]
    assert got[-1]["done"] is True
    assert got[-1]["total_tokens"] == 2
    assert got[-1]["error"]["type"] == "backend_error"


async def test_stream_failure_before_any_token_also_ends_with_an_error_event(client, fake_llama):
    fake_llama.plan = ["503"]
    response = await client.post("/v1/complete/stream", json={"prompt": "x"})
    (only,) = events(response.text)
    assert only["done"] is True
    assert only["error"]["type"] == "backend_unavailable"


async def test_backend_auth_failure_is_a_502_naming_the_setting(client, fake_llama):
    fake_llama.plan = ["401"]
    response = await client.post("/v1/complete", json={"prompt": "x"})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "backend_auth_error"
    assert "backend-secret-key" not in response.text


async def test_backend_down_is_a_503_with_retry_after(client, fake_llama):
    fake_llama.plan = ["refuse"]
    response = await client.post("/v1/complete", json={"prompt": "x"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_open_circuit_refuses_a_stream_before_it_starts(app_client, fake_llama):
    fake_llama.plan = ["refuse"]
    async with app_client(breaker_failures=1, breaker_cooldown=30) as http:
        await http.post("/v1/complete", json={"prompt": "x"})
        response = await http.post("/v1/complete/stream", json={"prompt": "x"})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "circuit_open"
    assert int(response.headers["retry-after"]) >= 29


async def test_unknown_model_is_a_400_listing_the_aliases(client):
    response = await client.post("/v1/complete", json={"prompt": "x", "model": "gpt-4"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "unknown_model",
        "message": "unknown model 'gpt-4'; known models: m1, chat",
    }


async def test_no_model_uses_the_default(app_client, fake_llama):
    async with app_client(default_model="chat") as http:
        response = await http.post("/v1/complete", json={"prompt": "x"})
    assert response.json()["model"] == "chat"
    assert fake_llama.requests[-1].url.path == "/v1/chat/completions"


async def test_prompt_too_large_for_the_model_is_a_400_naming_prompt(client):
    response = await client.post("/v1/complete", json={"prompt": "word " * 5000, "max_tokens": 16})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["field"]) == ("prompt_too_large", "prompt")


async def test_stats_count_requests_tokens_and_failures(client, fake_llama):
    await client.post("/v1/complete", json={"prompt": "x", "max_tokens": 2})
    fake_llama.plan = ["503"]
    await client.post("/v1/complete", json={"prompt": "x"})
    stats = (await client.get("/v1/stats")).json()
    assert stats["requests"]["total"] == 2
    assert stats["requests"]["failed"] == 1
    assert stats["requests"]["errors"] == {"backend_unavailable": 1}
    assert stats["models"]["m1"] == {"requests": 2, "failed": 1, "tokens": 2}
    assert stats["latency"]["time_to_first_token"]["count"] == 1
    assert stats["circuits"]["http://vps.test:9000"]["state"] == "closed"
    assert stats["process"]["rss_bytes"] > 0


async def test_metrics_are_prometheus_text(client):
    await client.post("/v1/complete", json={"prompt": "x", "max_tokens": 2})
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert "cerebrum_requests_total 1.0" in text
    assert 'cerebrum_tokens_generated_total{model="m1"} 2.0' in text
    assert 'cerebrum_circuit_state{backend="http://vps.test:9000"} 0.0' in text
    assert "cerebrum_request_duration_seconds_count 1.0" in text


async def test_vps_health_reports_loading_and_circuit(client, fake_llama):
    fake_llama.health_status = 503
    response = await client.get("/v1/vps/health")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["backends"][0]["status"] == "loading"
    assert body["backends"][0]["circuit"] == "closed"


async def test_vps_health_reports_a_refused_key_as_auth():
    import httpx
    from cerebrum.api.main import create_app

    from tests.unit.conftest import make_settings

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(401, json={"error": {"message": "Invalid API Key"}})

    app = create_app(make_settings(), transport=httpx.MockTransport(handle))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
        response = await http.get("/v1/vps/health")
    body = response.json()
    assert response.status_code == 503
    assert (body["status"], body["backends"][0]["status"]) == ("degraded", "auth")
    assert "backend-secret-key" not in response.text


async def test_health_never_calls_the_backend(client, fake_llama):
    response = await client.get("/health")
    assert response.json()["status"] == "ok"
    assert fake_llama.requests == []


async def test_models_list_aliases_with_backend_status(client, fake_llama):
    fake_llama.models_status = {"m1": "loaded"}
    body = (await client.get("/v1/models")).json()
    assert body["object"] == "list"
    assert body["default"] == "m1"
    entries = {entry["id"]: entry for entry in body["data"]}
    assert entries["m1"]["loaded"] == {"http://vps.test:9000": "loaded"}
    assert entries["chat"]["loaded"] == {"http://vps.test:9000": "absent"}
    assert entries["chat"]["format"] == "chat"


async def test_large_context_is_assembled_off_the_event_loop_and_still_served(client):
    text = "def f(x):\n    return x\n" * 200
    context = [{"path": f"f{i}.py", "text": text.replace("f(", f"f{i}(")} for i in range(10)]
    response = await client.post(
        "/v1/complete", json={"prompt": "def f", "max_tokens": 2, "context": context}
    )
    assert response.status_code == 200
    assert response.json()["pipeline"]["chunks_used"] >= 1


async def test_vps_health_closes_a_circuit_whose_backend_answers_again(app_client, fake_llama):
    """A backend no session calls home (affinity) gets its half-open probe from the health
    check: once it answers ok there, its circuit closes without a request routed to it."""
    fake_llama.plan = ["503"] * 3
    async with app_client(breaker_failures=1, breaker_cooldown=0.05, retries=0) as client:
        response = await client.post("/v1/complete", json={"prompt": "x", "max_tokens": 2})
        assert response.status_code == 503
        opened = (await client.get("/v1/vps/health")).json()["backends"][0]["circuit"]
        await asyncio.sleep(0.1)  # the cool-down passes: the circuit waits for a probe
        healed = (await client.get("/v1/vps/health")).json()["backends"][0]["circuit"]
        again = (await client.get("/v1/vps/health")).json()["backends"][0]["circuit"]
    assert opened == "open"
    assert (healed, again) == ("closed", "closed")
    assert fake_llama.generations == 1  # no request was sent to probe it


UNEXPECTED = "a detail that belongs in the log only"
INTERNAL = {"type": "internal_error", "message": "internal error; see the orchestrator's log"}


@pytest.mark.parametrize(
    ("path", "body", "last_error"),
    [
        ("/v1/complete/stream", {"prompt": "x"}, lambda events: events[-1]["error"]),
        ("/v1/completions", {"prompt": "x", "stream": True}, lambda events: events[-1]["error"]),
        (
            "/completion",
            {"prompt": "x", "stream": True},
            lambda events: {k: v for k, v in events[-1]["error"].items() if k != "code"},
        ),
    ],
)
async def test_an_unexpected_failure_mid_stream_is_one_internal_error_event_and_logged(
    client, monkeypatch, caplog, path, body, last_error
):
    from contextlib import aclosing

    from cerebrum.api.journey import Journey

    original = Journey.pieces

    async def pieces(journey):
        async with aclosing(original(journey)) as stream:
            async for item in stream:
                yield item
                raise RuntimeError(UNEXPECTED)

    monkeypatch.setattr(Journey, "pieces", pieces)
    response = await client.post(path, json=body)
    assert response.status_code == 200
    assert UNEXPECTED not in response.text
    events = [
        json.loads(data) for data in EventParser().feed(response.content) if data != b"[DONE]"
    ]
    assert last_error(events) == INTERNAL, response.text
    assert sum("error" in event for event in events) == 1, response.text
    logged = [r for r in caplog.records if r.getMessage() == "stream failed"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert str(logged[0].exc_info[1]) == UNEXPECTED
