"""The seed's completion API end to end: real uvicorn, real llama-server, real tokens."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest
from cerebrum.sse_reader import Comment, EventParser

from harness.orchestrator import CLIENT_KEY
from tests.seed_examples import check_seed_outputs, seed_curl_commands, sse_data


def stream_events(orchestrator, body: dict[str, object]) -> tuple[httpx.Response, bytes]:
    """The streamed answer to `body`, and its whole body."""
    with (
        orchestrator.client() as client,
        client.stream("POST", "/v1/complete/stream", json=body) as response,
    ):
        stream = response.read()
    return response, stream


def test_stream_sends_a_token_event_per_token_then_one_done_event(orchestrator):
    body = {"prompt": "def hello():", "language": "python", "max_tokens": 12, "temperature": 0.0}
    response, stream = stream_events(orchestrator, body)
    events = sse_data(stream)
    assert response.status_code == 200, stream
    tokens, done = events[:-1], events[-1]
    assert tokens, stream
    assert all(set(event) == {"token", "total_tokens"} for event in tokens), events
    assert [event["total_tokens"] for event in tokens] == list(range(1, len(tokens) + 1))
    # the seed's fields, and what the backend took from its prompt cache
    assert set(done) == {"done", "total_tokens", "inference_time", "prompt_tokens", "cached_tokens"}
    assert 0 <= done["cached_tokens"] <= done["prompt_tokens"], done
    assert done["done"] is True
    assert done["total_tokens"] == tokens[-1]["total_tokens"] <= 12
    assert 0 < done["inference_time"] < 30


def test_stream_events_are_separated_by_blank_lines(orchestrator):
    _, stream = stream_events(orchestrator, {"prompt": "x = ", "max_tokens": 3})
    events = EventParser().feed(stream)
    assert len(events) >= 2, stream
    framed = b"".join(b"data: " + event + b"\n\n" for event in events)
    assert stream.replace(b": ping\n\n", b"") == framed, stream


def test_stream_headers_stop_proxy_buffering(orchestrator):
    response, _ = stream_events(orchestrator, {"prompt": "x = ", "max_tokens": 2})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"


def test_complete_returns_the_generated_text_and_counts(orchestrator):
    with orchestrator.client() as client:
        response = client.post(
            "/v1/complete",
            json={
                "prompt": "def fibonacci(n):",
                "language": "python",
                "max_tokens": 16,
                "temperature": 0.0,
            },
        )
    body = response.json()
    assert response.status_code == 200, body
    assert body["completion"].strip(), body
    assert body["model"] == "gemma"
    assert body["backend_model"] == "gemma3-270m"
    assert body["completion_tokens"] == body["total_tokens"] == 16
    assert body["prompt_tokens"] > 0
    assert body["finish_reason"] == "length"
    assert body["inference_time"] > 0
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["pipeline"]["prompt_tokens"] >= 1


def test_complete_passes_context_through_the_pipeline(orchestrator):
    context = [{"path": "util.py", "text": "def add(a, b):\n    return a + b\n"}]
    with orchestrator.client() as client:
        response = client.post(
            "/v1/complete",
            json={"prompt": "result = add(", "max_tokens": 4, "context": context},
        )
    body = response.json()
    assert response.status_code == 200, body
    assert body["pipeline"]["chunks_used"] + body["pipeline"]["chunks_dropped"] >= 1, body


def test_request_id_from_client_is_returned_and_logged(orchestrator):
    with orchestrator.client() as client:
        response = client.post(
            "/v1/complete",
            json={"prompt": "x = ", "max_tokens": 2},
            headers={"X-Request-ID": "trace-abc-123"},
        )
    assert response.headers["x-request-id"] == "trace-abc-123"
    assert response.json()["request_id"] == "trace-abc-123"
    logged = [
        line for line in orchestrator.log_lines() if line.get("request_id") == "trace-abc-123"
    ]
    assert any(line.get("msg") == "request" and line.get("status") == 200 for line in logged), (
        logged
    )


CHAT = [{"role": "user", "content": "x"}]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/complete", {"prompt": "x", "model": "nope"}),
        ("/v1/complete/stream", {"prompt": "x", "model": "nope"}),
        ("/v1/chat/completions", {"messages": CHAT, "model": "nope", "stream": True}),
    ],
)
def test_unknown_model_is_a_400_naming_it_and_the_known_aliases(orchestrator, path, body):
    with orchestrator.client() as client:
        response = client.post(path, json=body)
    error = response.json()["error"]
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert error["type"] == "unknown_model"
    assert "'nope'" in error["message"]
    assert "gemma" in error["message"]
    assert "smol" in error["message"]


def test_invalid_field_is_a_422_naming_the_field(orchestrator):
    with orchestrator.client() as client:
        response = client.post("/v1/complete", json={"prompt": "x", "max_tokens": 100000})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "type": "validation_error",
            "message": "max_tokens: Input should be less than or equal to 4096",
            "field": "max_tokens",
        }
    }


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/complete", {"prompt": "x", "max_tokens": "ten"}, "max_tokens"),
        ("/v1/complete", {"prompt": 42}, "prompt"),
        ("/v1/complete/stream", {"prompt": "x", "context": [{"text": None}]}, "context.0.text"),
        ("/v1/completions", {"prompt": "x", "stream": "yes"}, "stream"),
        ("/v1/chat/completions", {"messages": CHAT, "max_tokens": "ten"}, "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": 1, "content": "x"}]}, "messages.0.role"),
    ],
)
def test_wrong_type_is_a_422_naming_the_field(orchestrator, path, body, field):
    with orchestrator.client() as client:
        response = client.post(path, json=body)
    error = response.json()["error"]
    assert response.status_code == 422, response.text
    assert (error["type"], error["field"]) == ("validation_error", field)
    assert error["message"].startswith(f"{field}: ")


def oversized_body() -> Iterator[bytes]:
    """A 2 MB JSON body (the limit is 1 MiB) in 64 KiB pieces."""
    yield b'{"prompt": "'
    for _ in range(32):
        yield b"x" * 65_536
    yield b'"}'


def test_body_over_the_limit_is_a_413(orchestrator):
    with orchestrator.client() as client:
        response = client.post("/v1/complete", content=b"".join(oversized_body()))
    assert int(response.request.headers["content-length"]) > 2_000_000
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


def test_chunked_body_over_the_limit_is_a_413(orchestrator):
    with orchestrator.client() as client:
        response = client.post("/v1/complete", content=oversized_body())
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/complete"), ("POST", "/v1/complete/stream"), ("GET", "/v1/models")],
)
def test_wrong_client_key_is_a_401_that_echoes_no_key(orchestrator, method, path):
    offered = "wrong-" + CLIENT_KEY[::-1]
    response = httpx.request(
        method,
        f"{orchestrator.url}{path}",
        json={"prompt": "x"} if method == "POST" else None,
        headers={"Authorization": f"Bearer {offered}"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == {"type": "unauthorized", "message": "invalid API key"}
    for key in (offered, CLIENT_KEY):
        assert key not in response.text
        assert key not in str(response.headers)


def test_missing_client_key_is_a_401(orchestrator):
    response = httpx.post(f"{orchestrator.url}/v1/complete", json={"prompt": "x"})
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_health_needs_no_key_and_never_asks_the_backend(orchestrator, llama_server):
    response = httpx.get(f"{orchestrator.url}/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["version"]
    assert body["uptime"] >= 0


def test_vps_health_reports_backend_status_latency_and_circuit(orchestrator, llama_server):
    with orchestrator.client() as client:
        body = client.get("/v1/vps/health").json()
    (backend,) = body["backends"]
    assert body["status"] == "ok"
    assert backend["backend"] == "backend 1"  # its name: clients never see its URL
    assert llama_server.url not in str(body)
    assert backend["reachable"] is True
    assert backend["status"] == "ok"
    assert backend["latency_ms"] >= 0
    assert backend["circuit"] == "closed"


def test_models_lists_aliases_with_backend_ids_and_load_state(orchestrator, llama_server):
    with orchestrator.client() as client:
        client.post("/v1/complete", json={"prompt": "x", "max_tokens": 1})
        body = client.get("/v1/models").json()
    models = {entry["id"]: entry for entry in body["data"]}
    assert body["default"] == "gemma"
    assert models["gemma"]["backend_model"] == "gemma3-270m"
    assert models["smol"]["backend_model"] == "smollm2-135m"
    assert models["gemma"]["loaded"]["backend 1"] == "loaded"  # by name: clients see no URL


def test_each_alias_is_routed_to_its_backend_model(orchestrator, llama_server):
    for model in llama_server.models:
        httpx.post(
            f"{llama_server.url}/models/unload",
            json={"model": model},
            headers=llama_server.headers,
            timeout=30,
        )
    with orchestrator.client() as client:
        smol = client.post("/v1/complete", json={"prompt": "Hi", "model": "smol", "max_tokens": 3})
    status = {
        entry["id"]: entry["status"]["value"]
        for entry in httpx.get(
            f"{llama_server.url}/models", headers=llama_server.headers, timeout=10
        ).json()["data"]
    }
    assert smol.status_code == 200, smol.text
    assert (smol.json()["model"], smol.json()["backend_model"]) == ("smol", "smollm2-135m")
    assert status["smollm2-135m"] == "loaded"
    assert status["gemma3-270m"] != "loaded"
    with orchestrator.client() as client:
        gemma = client.post("/v1/complete", json={"prompt": "x", "model": "gemma", "max_tokens": 3})
    assert (gemma.json()["model"], gemma.json()["backend_model"]) == ("gemma", "gemma3-270m")


def test_stream_sends_keepalive_pings_while_the_model_loads(orchestrator, llama_server):
    httpx.post(
        f"{llama_server.url}/models/unload",
        json={"model": "gemma3-270m"},
        headers=llama_server.headers,
        timeout=30,
    )
    _, stream = stream_events(orchestrator, {"prompt": "x = ", "max_tokens": 2})
    events = EventParser(comments=True).feed(stream)
    first_data = next(i for i, event in enumerate(events) if not isinstance(event, Comment))
    assert b"ping" in events[:first_data], stream
    assert sse_data(stream)[-1]["done"] is True


def test_seed_curl_examples_work_as_written(start_orchestrator):
    instance = start_orchestrator(client_keys="")  # no keys: loopback clients only, as the seed
    outputs = [
        subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        for command in seed_curl_commands(f"localhost:{instance.port}")
    ]
    check_seed_outputs(outputs)
