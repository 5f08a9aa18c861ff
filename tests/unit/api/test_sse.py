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


@pytest.mark.parametrize("stuck_on", ["start", "end"])
async def test_every_write_is_bounded_by_the_send_timeout(stuck_on):
    """The response start and the body's last (empty) write wait on a full socket too."""
    cleaned = asyncio.Event()

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            yield sse.token_event("a", 1)
        finally:
            cleaned.set()

    class StopsReading(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            self.messages.append(message)
            start = message["type"] == "http.response.start"
            end = message["type"] == "http.response.body" and not message.get("more_body")
            if (stuck_on == "start" and start) or (stuck_on == "end" and end):
                await asyncio.sleep(3600)

    recorder = StopsReading()
    response = sse.EventStream(events(), ping_interval=10, send_timeout=0.1)
    await asyncio.wait_for(response({"type": "http"}, recorder.receive, recorder.send), 10)
    assert cleaned.is_set()


async def test_a_real_client_that_stops_reading_gives_back_its_place_and_its_backend():
    import socket

    import httpx

    from tests.unit.conftest import make_settings
    from tests.unit.fakes import FakeLlama
    from tests.unit.serving import eventually, serving

    fake = FakeLlama(tokens=["x" * 65536] * 400)  # 26 MB: far more than the socket buffers
    settings = make_settings(send_timeout=0.5, max_in_flight=1, max_queue=0)
    body = b'{"prompt": "x", "max_tokens": 400}'
    async with serving(settings, fake.transport()) as address:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address)
        sock.sendall(
            b"POST /v1/complete/stream HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )  # and never read

        async def started() -> bool:
            return bool(fake.generations)

        await eventually(started)
        async with httpx.AsyncClient(base_url="http://{}:{}".format(*address)) as http:

            async def released() -> bool:
                nonlocal stats
                stats = (await http.get("/v1/stats")).json()
                return stats["requests"]["in_flight"] == 0

            stats: dict[str, Any] = {}
            await eventually(released)
            served = await http.post("/v1/complete", json={"prompt": "x", "max_tokens": 2})
        sock.close()
    assert fake.closed == [True, True]
    assert stats["circuits"]["backend 1"]["in_flight"] == 0
    assert served.status_code == 200


async def test_events_already_waiting_go_out_in_one_write():
    async def events() -> AsyncGenerator[bytes, None]:
        for n in range(1, 6):
            yield sse.token_event("a", n)

    recorder = Recorder()
    await sse.EventStream(events())({"type": "http"}, recorder.receive, recorder.send)
    bodies = [m["body"] for m in recorder.messages if m["type"] == "http.response.body"]
    assert bodies == [b"".join(sse.token_event("a", n) for n in range(1, 6)), b""]


async def test_one_write_gathers_at_most_64_kib_of_waiting_events():
    big = sse.event({"probs": "p" * 40_000})  # two of these pass the 64 KiB a write gathers

    async def events() -> AsyncGenerator[bytes, None]:
        for _ in range(6):
            yield big

    recorder = Recorder()
    await sse.EventStream(events())({"type": "http"}, recorder.receive, recorder.send)
    bodies = [m["body"] for m in recorder.messages if m["type"] == "http.response.body"]
    assert b"".join(bodies) == big * 6
    assert max(len(body) for body in bodies) <= 2 * len(big)
    assert len(bodies) >= 4  # three writes of two events, and the end


async def test_no_ping_while_events_keep_coming_more_often_than_the_interval():
    async def events() -> AsyncGenerator[bytes, None]:
        for n in range(1, 61):  # 0.6 s in all, never 0.25 s apart
            await asyncio.sleep(0.01)
            yield sse.token_event("a", n)

    recorder = Recorder()
    await sse.EventStream(events(), ping_interval=0.25)(
        {"type": "http"}, recorder.receive, recorder.send
    )
    assert sse.PING not in recorder.body
    assert recorder.body.count(b"data: ") == 60


async def test_on_close_runs_even_when_the_producer_never_started():
    """A client gone before the first byte: the response start fails, the producer's body
    never runs, and whoever holds a place for the stream is still told it is over."""
    from cerebrum.api.sse import EventStream

    started, closed = [], []

    async def events():
        started.append(True)
        yield b"data: {}\n\n"

    async def receive():
        await asyncio.Event().wait()  # the client never says anything

    async def send(message):
        raise OSError("client gone")

    stream = EventStream(events(), on_close=lambda: closed.append(True))
    with pytest.raises((OSError, BaseExceptionGroup)):  # the task group may wrap it
        await stream({"type": "http"}, receive, send)
    assert closed == [True]
