"""Server-Sent Events: the seed API's event shapes, and a response that streams them.

Events are ``data: <json>\\n\\n`` (orjson). ``EventStream`` sends a keep-alive comment
(``: ping``) whenever nothing has been written for ``ping_interval`` seconds (a backend
loading a model, a long prompt), and cancels the producer the moment the client hangs up,
so the producer's ``finally`` closes the backend connection. A client that stays connected
but stops reading is treated the same way once any write (the response start, an event, the
end of the body) has waited ``send_timeout`` seconds (uvicorn's ``send`` waits while the
socket's buffer is full), so it cannot hold a backend slot or a load-shedding place.
Events that are already waiting when the previous write is done go out together in one write
(up to ``_BATCH_BYTES``): a burst from a fast backend costs one ``send`` instead of one per
token, no event ever waits to be batched, and no write joins more than one large event. Both
deadlines are kept by one watchdog task per stream that wakes only when one of them may have
passed, so an event costs no timer of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing, suppress
from typing import Any

import anyio
import orjson
from anyio.streams.memory import MemoryObjectSendStream
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from cerebrum.api.schemas import DoneEvent, ErrorDetail, TokenEvent

log = logging.getLogger("cerebrum.sse")

PING = b": ping\n\n"
BARE_PING = b":\n\n"  # llama-server's keep-alive (Continue stops reading at ": ping")
DONE = b"data: [DONE]\n\n"

_BUFFER = 16  # events the producer may run ahead of the client
_BATCH_BYTES = 65536  # a write gathers ready events up to this size (one event may be larger)

HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


def event(data: Mapping[str, Any]) -> bytes:
    """One SSE event carrying ``data`` as JSON."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


def token_event(token: str, total_tokens: int) -> bytes:
    data: TokenEvent = {"token": token, "total_tokens": total_tokens}
    return event(data)


def done_event(
    total_tokens: int,
    inference_time: float,
    error: ErrorDetail | None = None,
    prompt_tokens: int | None = None,
    cached_tokens: int | None = None,
) -> bytes:
    data: DoneEvent = {
        "done": True,
        "total_tokens": total_tokens,
        "inference_time": round(inference_time, 3),
    }
    if prompt_tokens is not None:
        data["prompt_tokens"] = prompt_tokens
        data["cached_tokens"] = cached_tokens or 0
    if error is not None:
        data["error"] = error
    return event(data)


class EventStream(Response):
    """An ASGI response streaming already-encoded SSE events from an async iterator."""

    def __init__(
        self,
        events: AsyncGenerator[bytes, None],
        ping_interval: float = 5.0,
        send_timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        ping: bytes = PING,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.events = events
        self.on_close = on_close  # called once the response is over, however it ended
        self.ping = ping
        self.ping_interval = ping_interval
        self.send_timeout = send_timeout
        self.status_code = 200
        extra = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        self.raw_headers = [*HEADERS, *extra]
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._stream(send, receive)
        finally:
            if self.on_close is not None:  # even when the producer never started
                self.on_close()

    async def _stream(self, send: Send, receive: Receive) -> None:
        # None after the last event: the watchdog holds a sender too, so the stream never ends
        sender, receiver = anyio.create_memory_object_stream[bytes | None](_BUFFER)
        clock = _Clock()
        async with anyio.create_task_group() as group:
            group.start_soon(self._produce, sender)
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            group.start_soon(self._watch, clock, sender.clone(), group.cancel_scope)
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await clock.sent(send, start)
            async with receiver:
                ended = False
                while not ended:
                    piece = await receiver.receive()
                    if piece is None:
                        break
                    pieces, size = [piece], len(piece)
                    try:  # the events ready so far, in one write
                        while size < _BATCH_BYTES:
                            if (piece := receiver.receive_nowait()) is None:
                                ended = True
                                break
                            pieces.append(piece)
                            size += len(piece)
                    except anyio.WouldBlock:
                        pass
                    body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    await clock.sent(
                        send, {"type": "http.response.body", "body": body, "more_body": True}
                    )
            await clock.sent(send, {"type": "http.response.body", "body": b"", "more_body": False})
            group.cancel_scope.cancel()

    async def _produce(self, sender: MemoryObjectSendStream[bytes | None]) -> None:
        async with sender, aclosing(self.events) as events:
            async for chunk in events:
                try:
                    sender.send_nowait(chunk)  # no checkpoint while there is room
                except anyio.WouldBlock:
                    await sender.send(chunk)
            await sender.send(None)

    async def _watch(
        self,
        clock: _Clock,
        pings: MemoryObjectSendStream[bytes | None],
        scope: anyio.CancelScope,
    ) -> None:
        """One timer for the whole stream: a ping into the queue after ``ping_interval``
        without a write, everything cancelled when one write takes ``send_timeout``."""
        async with pings:
            while True:
                now = time.monotonic()
                if clock.sending_since is not None:
                    due = clock.sending_since + self.send_timeout
                    if now >= due:
                        log.warning("client stopped reading", extra={"timeout": self.send_timeout})
                        scope.cancel()
                        return
                else:
                    due = clock.last_write + self.ping_interval
                    if now >= due:
                        with suppress(anyio.WouldBlock):  # full: not silent
                            pings.send_nowait(self.ping)
                        clock.last_write = now
                        due = now + self.ping_interval
                    due = min(due, now + self.send_timeout)  # a write may start any moment
                await anyio.sleep(due - now)


class _Clock:
    """When the stream last finished a write, and when the write under way (if any) began."""

    __slots__ = ("last_write", "sending_since")

    def __init__(self) -> None:
        self.last_write = time.monotonic()
        self.sending_since: float | None = None

    async def sent(self, send: Send, message: Message) -> None:
        self.sending_since = time.monotonic()
        await send(message)
        self.last_write = time.monotonic()
        self.sending_since = None


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
