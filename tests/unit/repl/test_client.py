"""The REPL's HTTP client against scripted answers: SSE parsing and failures as one line."""

from __future__ import annotations

import json

import httpx
import pytest
from cerebrum.repl.client import Client
from cerebrum.repl.errors import ReplError

KEY = "client-secret-key"
URL = "http://cerebrum.test"


def sse(*events: object, comments: bool = True) -> bytes:
    lines = [b": ping\n\n"] if comments else []
    lines += [b"data: " + json.dumps(event).encode() + b"\n\n" for event in events]
    return b"".join(lines)


def client_answering(status: int, body: bytes, headers: dict[str, str] | None = None, seen=None):
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content_type = "text/event-stream" if status == 200 else "application/json"
        return httpx.Response(
            status,
            content=body,
            headers={"content-type": content_type, "x-request-id": "rid-1", **(headers or {})},
        )

    return Client(URL, KEY, transport=httpx.MockTransport(handle))


def test_stream_yields_tokens_and_keeps_the_counts_and_request_id():
    body = sse(
        {"token": "def", "total_tokens": 1},
        {"token": " f", "total_tokens": 2},
        {"done": True, "total_tokens": 2, "inference_time": 0.1},
    )
    seen: list[httpx.Request] = []
    with client_answering(200, body, seen=seen) as client, client.complete({"prompt": "x"}) as c:
        tokens = list(c)
    assert tokens == ["def", " f"]
    outcome = c.outcome()
    assert (outcome.tokens, outcome.request_id, c.error_line()) == (2, "rid-1", None)
    assert outcome.ttft is not None
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(seen[0].content) == {"prompt": "x"}


def test_final_error_event_ends_the_stream_as_one_line():
    error = {"type": "backend_error", "message": "gone"}
    body = sse(
        {"token": "a", "total_tokens": 1},
        {"done": True, "total_tokens": 1, "inference_time": 0.2, "error": error},
    )
    with client_answering(200, body) as client, client.complete({"prompt": "x"}) as completion:
        assert list(completion) == ["a"]
    assert completion.error_line() == "stream failed after 1 tokens: backend_error: gone"


def test_stream_that_ends_without_its_final_event_is_an_error():
    body = sse({"token": "a", "total_tokens": 1})
    with (
        client_answering(200, body) as client,
        client.complete({"prompt": "x"}) as completion,
        pytest.raises(ReplError, match="without its final event after 1 tokens"),
    ):
        list(completion)


def test_an_answer_that_is_not_an_event_stream_is_one_line():
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"completion": "x"})

    with (
        Client(URL, KEY, transport=httpx.MockTransport(handle)) as client,
        pytest.raises(ReplError) as caught,
        client.complete({"prompt": "x"}),
    ):
        pass
    assert str(caught.value) == (
        "/v1/complete/stream: expected an event stream, got 'application/json'"
    )


def test_an_event_beyond_the_parsers_bound_is_one_line():
    body = b"data: " + b"x" * (9 * 1_048_576)  # never ends: more than 8 MB kept would be unbounded
    with (
        client_answering(200, body) as client,
        client.complete({"prompt": "x"}) as completion,
        pytest.raises(ReplError, match="sent an event larger than 8388608 bytes"),
    ):
        list(completion)


def test_503_before_the_stream_is_one_line_with_retry_after():
    body = b'{"error": {"type": "overloaded", "message": "server is busy"}}'
    with (
        client_answering(503, body, {"retry-after": "1"}) as client,
        pytest.raises(ReplError) as caught,
        client.complete({"prompt": "x"}),
    ):
        pass
    assert str(caught.value) == "503 overloaded: server is busy; retry after 1 s"


def test_401_line_never_contains_the_key():
    body = b'{"error": {"type": "unauthorized", "message": "invalid API key"}}'
    with (
        client_answering(401, body) as client,
        pytest.raises(ReplError) as caught,
        client.complete({"prompt": "x"}),
    ):
        pass
    assert str(caught.value).startswith("401 unauthorized: invalid API key")
    assert KEY not in str(caught.value)


def test_connection_refused_is_one_line_naming_the_url():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with Client(URL, KEY, transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(ReplError) as streaming, client.complete({"prompt": "x"}):
            pass
        with pytest.raises(ReplError) as getting:
            client.get("/v1/models")
    expected = f"cannot connect to {URL}: Connection refused"
    assert str(streaming.value) == str(getting.value) == expected


def test_get_accepts_the_listed_statuses_only():
    body = b'{"status": "degraded", "backends": []}'
    with client_answering(503, body) as client:
        assert client.get("/v1/vps/health", accept=(200, 503))["status"] == "degraded"
        with pytest.raises(ReplError, match=r"^503: "):
            client.get("/v1/vps/health")
