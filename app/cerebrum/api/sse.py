"""Server-Sent Events: the seed's event shapes, and a response that streams them.

Events are ``data: <json>\\n\\n`` (orjson). ``EventStream`` sends a keep-alive comment
(``: ping``) whenever the producer has been silent for ``ping_interval`` seconds (a backend
loading a model, a long prompt), and cancels the producer the moment the client hangs up,
so the producer's ``finally`` closes the backend connection. A client that stays connected
but stops reading is treated the same way once any write (the response start, an event, the
end of the body) has waited ``send_timeout`` seconds (uvicorn's ``send`` waits while the
socket's buffer is full), so it cannot hold a backend slot or a load-shedding place.
Events that are already waiting when the previous write is done go out together in one
write: a burst from a fast backend costs one ``send`` instead of one per token, and no
event ever waits to be batched.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

import anyio
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from cerebrum.api.schemas import DoneEvent, ErrorDetail, TokenEvent

log = logging.getLogger("cerebrum.sse")

PING = b": ping\n\n"
BARE_PING = b":\n\n"  # llama-server's keep-alive (Continue stops reading at ": ping")
DONE = b"data: [DONE]\n\n"

_BUFFER = 16  # events the producer may run ahead of the client

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
    ) -> None:
        self.events = events
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
        sender, receiver = anyio.create_memory_object_stream[bytes](max_buffer_size=_BUFFER)
        async with anyio.create_task_group() as group:

            async def sent(message: Message) -> bool:
                """Send within ``send_timeout``; False (and everything stopped) when not."""
                with anyio.move_on_after(self.send_timeout) as sending:
                    await send(message)
                if sending.cancelled_caught:
                    log.warning("client stopped reading", extra={"timeout": self.send_timeout})
                    group.cancel_scope.cancel()
                    return False
                return True

            group.start_soon(self._produce, sender)
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            if not await sent(start):
                return
            async with receiver:
                while True:
                    pieces, ended = _ready(receiver)
                    if not pieces and not ended:  # nothing yet: wait, with a ping after silence
                        with anyio.move_on_after(self.ping_interval) as waited:
                            try:
                                pieces = [await receiver.receive()]
                            except anyio.EndOfStream:
                                ended = True
                        if waited.cancelled_caught:
                            pieces = [self.ping]
                        elif not ended:
                            more, ended = _ready(receiver)
                            pieces += more
                    if pieces:  # every event ready so far, in one write
                        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                        message = {"type": "http.response.body", "body": body, "more_body": True}
                        if not await sent(message):
                            return
                    if ended:
                        break
            if await sent({"type": "http.response.body", "body": b"", "more_body": False}):
                group.cancel_scope.cancel()

    async def _produce(self, sender: MemoryObjectSendStream[bytes]) -> None:
        async with sender, aclosing(self.events) as events:
            async for chunk in events:
                try:
                    sender.send_nowait(chunk)  # no checkpoint while there is room
                except anyio.WouldBlock:
                    await sender.send(chunk)


def _ready(receiver: MemoryObjectReceiveStream[bytes]) -> tuple[list[bytes], bool]:
    """The events already waiting (without waiting), and whether the producer has finished."""
    pieces: list[bytes] = []
    try:
        while True:
            pieces.append(receiver.receive_nowait())
    except anyio.WouldBlock:
        return pieces, False
    except anyio.EndOfStream:
        return pieces, True


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
