"""api/sse.py: the seed's event encoding, keep-alive pings, cancellation on disconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from cerebrum.api import sse

pytestmark = pytest.mark.anyio


def test_token_event_has_the_seed_shape():
    assert sse.token_event("import", 1) == b'data: {"token":"import","total_tokens":1}\n\n'


def test_done_event_has_the_seed_shape_with_seconds_rounded():
    event = sse.done_event(129, 182.14049)
    assert event == b'data: {"done":true,"total_tokens":129,"inference_time":182.14}\n\n'


def test_done_event_can_carry_one_error():
    event = sse.done_event(3, 1.0, error={"type": "backend_error", "message": "gone"})
    payload = json.loads(event.removeprefix(b"data: "))
    assert payload == {
        "done": True,
        "total_tokens": 3,
        "inference_time": 1.0,
        "error": {"type": "backend_error", "message": "gone"},
    }


def test_events_are_utf8_json_without_escaping_non_ascii():
    assert sse.token_event("é→", 2) == 'data: {"token":"é→","total_tokens":2}\n\n'.encode()


class Recorder:
    """An ASGI receive/send pair: the client disconnects when ``disconnect`` is set."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.disconnect = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )


async def test_stream_sends_headers_that_stop_proxy_buffering():
    async def events() -> AsyncGenerator[bytes, None]:
        yield sse.token_event("a", 1)

    recorder = Recorder()
    await sse.EventStream(events())({"type": "http"}, recorder.receive, recorder.send)
    headers = dict(recorder.messages[0]["headers"])
    assert headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert headers[b"cache-control"] == b"no-cache"
    assert headers[b"x-accel-buffering"] == b"no"
    assert recorder.body == b'data: {"token":"a","total_tokens":1}\n\n'


async def test_stream_sends_keepalive_comments_while_the_producer_is_silent():
    async def events() -> AsyncGenerator[bytes, None]:
        await asyncio.sleep(0.25)
        yield sse.token_event("a", 1)

    recorder = Recorder()
    await sse.EventStream(events(), ping_interval=0.05)(
        {"type": "http"}, recorder.receive, recorder.send
    )
    before, _, after = recorder.body.partition(b"data: ")
    assert before.count(sse.PING) >= 3
    assert after.startswith(b'{"token"')


async def test_client_disconnect_cancels_the_producer_and_runs_its_finally():
    cleaned = asyncio.Event()

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            yield sse.token_event("a", 1)
            await asyncio.sleep(3600)
            yield sse.token_event("b", 2)
        finally:
            cleaned.set()

    recorder = Recorder()
    response = sse.EventStream(events(), ping_interval=10)
    task = asyncio.create_task(response({"type": "http"}, recorder.receive, recorder.send))
    await asyncio.sleep(0.05)
    recorder.disconnect.set()
    await asyncio.wait_for(task, 1)
    assert cleaned.is_set()
    assert b'"b"' not in recorder.body


async def test_client_that_stops_reading_is_dropped_and_the_producer_closed():
    cleaned = asyncio.Event()
    stuck = asyncio.Event()

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            while True:
                yield sse.token_event("a", 1)
        finally:
            cleaned.set()

    class SlowReader(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            self.messages.append(message)
            if message["type"] == "http.response.body":
                stuck.set()
                await asyncio.sleep(3600)  # the socket buffer is full and stays full

    recorder = SlowReader()
    response = sse.EventStream(events(), ping_interval=10, send_timeout=0.1)
    await asyncio.wait_for(response({"type": "http"}, recorder.receive, recorder.send), 2)
    assert stuck.is_set()
    assert cleaned.is_set()
