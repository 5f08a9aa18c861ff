"""core/llama_server.py: request bodies, the backend key, stream parsing, status mapping."""

from __future__ import annotations

import httpx
import pytest
from cerebrum.core.errors import (
    BackendAuthError,
    BackendError,
    BackendRejectedError,
    BackendServerError,
    BackendUnavailableError,
    Blame,
)
from cerebrum.core.generation import Generation
from cerebrum.core.llama_server import LlamaServerClient

from tests.unit.fakes import FakeLlama

pytestmark = pytest.mark.anyio

KEY = "backend-secret-key"


def client_for(fake: FakeLlama, api_key: str | None = KEY) -> LlamaServerClient:
    return LlamaServerClient(
        "http://vps.test:9000/", httpx.AsyncClient(transport=fake.transport()), api_key
    )


async def collect(client: LlamaServerClient, generation: Generation):
    upstream = await client.open(generation)
    try:
        return [chunk async for chunk in upstream]
    finally:
        await upstream.aclose()


async def test_sends_the_backend_key_as_a_bearer_token():
    fake = FakeLlama()
    await collect(client_for(fake), Generation(model="m1", max_tokens=2, prompt="x"))
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_each_generation_asks_for_its_own_connection():
    fake = FakeLlama()
    await collect(client_for(fake), Generation(model="m1", max_tokens=2, prompt="x"))
    assert fake.requests[0].headers["connection"] == "close"


async def test_sends_no_authorization_without_a_key():
    fake = FakeLlama()
    await collect(client_for(fake, api_key=None), Generation(model="m1", max_tokens=2, prompt="x"))
    assert "authorization" not in fake.requests[0].headers


async def test_prompt_goes_to_native_completion_with_n_predict_and_model():
    fake = FakeLlama()
    generation = Generation(model="m1", max_tokens=3, prompt="def", temperature=0.2, stop=("\n\n",))
    await collect(client_for(fake), generation)
    assert fake.requests[0].url.path == "/completion"
    assert fake.bodies[0] == {
        "model": "m1", "stream": True, "temperature": 0.2, "stop": ["\n\n"],
        "prompt": "def", "n_predict": 3, "cache_prompt": True,
    }  # fmt: skip


async def test_messages_go_to_chat_completions_with_usage_requested():
    fake = FakeLlama()
    generation = Generation(model="c1", max_tokens=2, messages=(("user", "hi"),))
    await collect(client_for(fake), generation)
    assert fake.requests[0].url.path == "/v1/chat/completions"
    assert fake.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]
    assert fake.bodies[0]["stream_options"] == {"include_usage": True}


async def test_completion_stream_yields_tokens_then_a_final_chunk():
    chunks = await collect(
        client_for(FakeLlama()), Generation(model="m1", max_tokens=3, prompt="x")
    )
    assert [c.text for c in chunks] == ["def", " f", "():", ""]
    assert [c.tokens for c in chunks[:-1]] == [1, 1, 1]
    final = chunks[-1]
    assert final.done
    assert final.finish_reason == "length"
    assert (final.prompt_tokens, final.completion_tokens) == (3, 3)


async def test_chat_stream_ends_with_usage_from_the_backend():
    generation = Generation(model="c1", max_tokens=2, messages=(("user", "hi"),))
    chunks = await collect(client_for(FakeLlama()), generation)
    assert "".join(c.text for c in chunks) == "def f"
    assert chunks[-1].done
    assert chunks[-1].completion_tokens == 2
    assert chunks[-1].prompt_tokens == 3


async def test_401_is_a_backend_auth_error_that_does_not_contain_the_key():
    with pytest.raises(BackendAuthError) as caught:
        await collect(
            client_for(FakeLlama(plan=["401"])), Generation(model="m", max_tokens=1, prompt="x")
        )
    assert "CEREBRUM_API_KEY" in caught.value.message
    assert KEY not in caught.value.message


async def test_503_is_backend_unavailable():
    with pytest.raises(BackendUnavailableError, match="HTTP 503: Loading model"):
        await collect(
            client_for(FakeLlama(plan=["503"])), Generation(model="m", max_tokens=1, prompt="x")
        )


async def test_400_keeps_the_backend_message():
    with pytest.raises(BackendRejectedError, match="model 'x' not found"):
        await collect(
            client_for(FakeLlama(plan=["400"])), Generation(model="m", max_tokens=1, prompt="x")
        )


@pytest.mark.parametrize(
    ("status", "blame"),
    [(400, Blame.REQUEST), (404, Blame.REQUEST), (429, Blame.BACKEND), (502, Blame.BACKEND),
     (503, Blame.BACKEND), (504, Blame.BACKEND)],
)  # fmt: skip
async def test_whose_failure_a_status_is(status, blame):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "no", "code": status}})

    client = LlamaServerClient(
        "http://vps.test:9000", httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )
    with pytest.raises(BackendError) as caught:
        await collect(client, Generation(model="m", max_tokens=1, prompt="x"))
    assert caught.value.blame is blame


@pytest.mark.parametrize(
    ("answer", "raised", "blame"),
    [(httpx.Response(500, json={"error": {"code": 500, "message": "x", "type": "server_error"}}),
      BackendServerError, Blame.UNKNOWN),
     (httpx.Response(500, text="<html>Internal Server Error</html>"),
      BackendUnavailableError, Blame.BACKEND)],
    ids=["llama-server", "a-proxy"],
)  # fmt: skip
async def test_llama_servers_own_500_is_either_failure_and_another_500_the_backends(
    answer, raised, blame
):
    transport = httpx.MockTransport(lambda request: answer)
    client = LlamaServerClient("http://vps.test:9000", httpx.AsyncClient(transport=transport))
    with pytest.raises(raised) as caught:
        await collect(client, Generation(model="m", max_tokens=1, prompt="x"))
    assert caught.value.blame is blame


async def test_addresses_in_a_backends_message_are_blanked_out():
    said = "cannot reach http://10.0.0.5:9000/models nor 100.64.1.2:8080 nor [fd7a::1]:9000"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": said, "code": 400}})

    client = LlamaServerClient(
        "http://vps.test:9000", httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )
    with pytest.raises(BackendRejectedError) as caught:
        await collect(client, Generation(model="m", max_tokens=1, prompt="x"))
    message = caught.value.message
    assert "cannot reach <address> nor <address> nor <address>" in message


async def test_connection_refused_is_backend_unavailable():
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        await collect(
            client_for(FakeLlama(plan=["refuse"])), Generation(model="m", max_tokens=1, prompt="x")
        )


async def test_health_reports_loading_while_the_backend_answers_503():
    health = await client_for(FakeLlama(health_status=503)).health()
    assert (health.reachable, health.status, health.detail) == (True, "loading", "Loading model")


async def test_models_reports_each_model_status():
    fake = FakeLlama(models_status={"m1": "loaded", "c1": "unloaded"})
    assert await client_for(fake).models() == {"m1": "loaded", "c1": "unloaded"}


# ---- What a backend sends is bounded in size and time, and checked ----------------------

import asyncio  # noqa: E402
import json  # noqa: E402

from cerebrum.core.errors import BackendProtocolError  # noqa: E402
from cerebrum.core.transport import LeanTransport  # noqa: E402
from cerebrum.sse_reader import EventParser  # noqa: E402

from tests.unit.serving import WAIT, raw_server  # noqa: E402

LIMIT = 1_048_576


def real_client(url: str, **options) -> LlamaServerClient:
    http = httpx.AsyncClient(transport=LeanTransport(), timeout=httpx.Timeout(5.0))
    return LlamaServerClient(url, http, KEY, **options)


async def all_closed(closed: list[asyncio.Event]) -> None:
    async with asyncio.timeout(WAIT):
        for event in closed:
            await event.wait()


async def test_health_dripping_one_byte_at_a_time_ends_within_the_timeout_and_closes():
    async def drip(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)  # every read succeeds: only a total deadline stops it

    async with raw_server(drip) as (url, _, closed):
        health = await real_client(url, health_timeout=0.5).health()
        await all_closed(closed)
    assert (health.reachable, health.status) == (False, "unreachable")
    assert "within 0.5 s" in (health.detail or "")


@pytest.mark.parametrize("path", ["/health", "/models"])
async def test_an_answer_beyond_max_bytes_is_refused_without_reading_it_all(path):
    sent = [0]

    async def flood(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 200000000\r\n\r\n")
        while sent[0] < 200_000_000:
            writer.write(b"x" * 65536)
            sent[0] += 65536
            await writer.drain()

    async with raw_server(flood) as (url, _, closed):
        client = real_client(url, max_bytes=LIMIT)
        if path == "/health":
            health = await client.health()
            assert (health.status, health.reachable) == ("error", True)
            assert "larger than" in (health.detail or "")
        else:
            with pytest.raises(BackendProtocolError, match="larger than"):
                await client.models()
        await all_closed(closed)
    assert sent[0] < 100 * LIMIT  # stopped early (socket buffers hold a few MB at most)


async def test_an_sse_event_that_never_ends_is_refused_at_max_bytes():
    async def endless(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ")
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()

    async with raw_server(endless) as (url, _, closed):
        client = real_client(url, max_bytes=LIMIT)
        upstream = await client.open(Generation(model="m", max_tokens=1, prompt="x"))
        try:
            with pytest.raises(BackendProtocolError, match="larger than 1048576 bytes"):
                await anext(upstream)
        finally:
            await upstream.aclose()
        await all_closed(closed)


async def test_a_compressed_answer_is_refused():
    async def gzipped(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nxx")

    async with raw_server(gzipped) as (url, _, _):
        with pytest.raises(BackendProtocolError, match="compressed"):
            await real_client(url).models()


async def test_health_reports_auth_when_the_backend_refuses_the_key():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        assert request.headers["authorization"] == f"Bearer {KEY}"
        return httpx.Response(401, json={"error": {"message": "Invalid API Key"}})

    client = LlamaServerClient(
        "http://vps.test", httpx.AsyncClient(transport=httpx.MockTransport(handle)), KEY
    )
    health = await client.health()
    assert (health.reachable, health.status) == (True, "auth")
    assert "CEREBRUM_API_KEY" in (health.detail or "")
    assert KEY not in (health.detail or "")


# ---- Malformed upstream events are a 502 backend_error on every route -------------------

BAD_EVENTS = {
    "/completion": [
        b'data: {"content": 5}\n\n',
        b'data: {"content": "a", "tokens_predicted": "x"}\n\n',
        b'data: {"content": "", "stop": true, "tokens_evaluated": "3"}\n\n',
        b'data: {"content": "", "stop": true, "tokens_evaluated": 3, "timings": 5}\n\n',
        b"data: [1, 2]\n\n",
    ],
    "/v1/chat/completions": [
        b'data: {"choices": 5}\n\n',
        b'data: {"choices": [5]}\n\n',
        b'data: {"choices": [{"delta": "x"}]}\n\n',
        b'data: {"choices": [{"delta": {"content": "a"}, "finish_reason": 3}]}\n\n',
        b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'
        b'data: {"choices": [], "usage": {"prompt_tokens": "3"}}\n\ndata: [DONE]\n\n',
    ],
}
ROUTES = [
    ("/v1/complete", False),
    ("/v1/complete/stream", True),
    ("/v1/completions", False),
    ("/v1/completions", True),
    ("/v1/chat/completions", False),
    ("/v1/chat/completions", True),
]


def request_body(path: str, model: str, stream: bool) -> dict[str, object]:
    if path.startswith("/v1/complete"):
        return {"model": model, "prompt": "x", "max_tokens": 2}
    if path == "/v1/completions":
        return {"model": model, "prompt": "x", "max_tokens": 2, "stream": stream}
    messages = [{"role": "user", "content": "x"}]
    return {"model": model, "messages": messages, "max_tokens": 2, "stream": stream}


@pytest.mark.parametrize(("path", "stream"), ROUTES)
@pytest.mark.parametrize(("model", "case"), [(m, i) for m in ("m1", "chat") for i in range(5)])
async def test_a_malformed_backend_event_is_a_backend_error(path, stream, model, case):
    from cerebrum.api.main import create_app

    from tests.unit.conftest import make_settings

    def handle(request: httpx.Request) -> httpx.Response:
        event = BAD_EVENTS[request.url.path][case]
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=event)

    app = create_app(make_settings(), transport=httpx.MockTransport(handle))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
        response = await http.post(path, json=request_body(path, model, stream))
    if stream:
        assert response.status_code == 200
        events = EventParser().feed(response.content)
        errors = [json.loads(data).get("error") for data in events if data != b"[DONE]"]
        assert [e["type"] for e in errors if e] == ["backend_error"], response.text
    else:
        assert response.status_code == 502, response.text
        assert response.json()["error"]["type"] == "backend_error"


# llama-server b11312's stream for a list of two prompts (captured from the real server): an
# event of null first, then the events of both completions interleaved by index.
TWO_PROMPTS = b"".join(
    b"data: " + json.dumps(event).encode() + b"\n\n"
    for event in [
        None,
        {"index": 1, "content": "\n", "stop": False, "tokens_predicted": 1},
        {"index": 0, "content": "\n", "stop": False, "tokens_predicted": 1},
        {"index": 1, "content": "", "stop": True, "tokens_predicted": 1, "tokens_evaluated": 8},
        {"index": 0, "content": "", "stop": True, "tokens_predicted": 1, "tokens_evaluated": 8},
    ]
)


async def test_a_list_of_prompts_asks_n_cmpl_each_and_ends_after_every_completion():
    sent: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, content=TWO_PROMPTS)

    client = LlamaServerClient(
        "http://vps.test:9000/", httpx.AsyncClient(transport=httpx.MockTransport(answer)), KEY
    )
    generation = Generation(model="m1", max_tokens=1, prompt=["a", "b"])
    pieces = await collect(client, generation)
    assert generation.results == 2
    assert "n_cmpl" not in sent[0]  # one completion of each prompt
    assert [piece.index for piece in pieces] == [1, 0, 1, 0]
    assert [piece.done for piece in pieces] == [False, False, False, True]
