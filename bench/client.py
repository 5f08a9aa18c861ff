"""A timing SSE client for both shapes: the orchestrator's stream and llama-server's own.

Times are taken with `perf_counter` at the client: time to first token is from just before
the request is sent to the arrival of the first event that carries text (an empty
`content`, a ping or a progress event does not count), on both paths alike. `Stream` is the
one definition every benchmark uses (`stream` here, bench/editor.py's keystrokes): it takes
the events (`Stream.record`) and says what the time to first token was (`Stream.ttft`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson
from cerebrum.sse_reader import aiter_events

Shape = Literal["orchestrator", "direct"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where one side of a comparison sends its requests, and the shape of its stream."""

    url: str
    headers: dict[str, str]
    shape: Shape


@dataclass(slots=True)
class Stream:
    """What one streamed request looked like from the client."""

    status: int = 0
    sent_at: float = 0.0
    first_at: float | None = None  # the first event with text
    last_at: float | None = None  # the last event with text
    ended_at: float = 0.0
    tokens: int = 0  # as the stream reports them (total_tokens / tokens_predicted)
    text_events: int = 0
    prompt_tokens: int | None = None  # llama-server's tokens_evaluated (direct only)
    error: str | None = None
    last: dict[str, Any] | None = None  # the last event (llama-server's has the timings)

    @property
    def ttft(self) -> float | None:
        return None if self.first_at is None else self.first_at - self.sent_at

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None and self.first_at is not None

    def tokens_per_second(self) -> float | None:
        """Decode rate seen by the client: tokens after the first, over the time they took."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return None
        return (self.tokens - 1) / (self.last_at - self.first_at)

    def record(self, event: dict[str, Any], shape: Shape, now: float) -> None:
        """One event of the stream, read at `now`: its text (the orchestrator's `token`,
        llama-server's `content`) counts as a token when it is not empty."""
        self.last = event
        if shape == "orchestrator":
            text = event.get("token")
            if event.get("error"):
                self.error = str(event["error"])
            if "total_tokens" in event:
                self.tokens = int(event["total_tokens"])
        else:
            text = event.get("content")
            if "error" in event:
                self.error = str(event["error"])
            if "tokens_predicted" in event:
                self.tokens = int(event["tokens_predicted"])
            if event.get("stop"):
                self.prompt_tokens = event.get("tokens_evaluated")
        if text:
            self.text_events += 1
            self.last_at = now
            if self.first_at is None:
                self.first_at = now

    def end(self, now: float) -> None:
        """The stream is over: a 200 answer without a token is an error."""
        self.ended_at = now
        if self.error is None and self.status == 200 and self.first_at is None:
            self.error = "no token in the stream"


def client(connections: int = 64, timeout: float = 600.0) -> httpx.AsyncClient:
    """A keep-alive client for one side of the comparison (each side gets its own)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        trust_env=False,
    )


async def stream(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], shape: Shape
) -> Stream:
    """POST `body` and read the SSE answer to its end."""
    result = Stream()
    request_headers = {**headers, "Content-Type": "application/json"}
    result.sent_at = time.perf_counter()
    try:
        async with http.stream("POST", url, content=body, headers=request_headers) as response:
            result.status = response.status_code
            if response.status_code != 200:
                result.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
            else:
                async for data in aiter_events(response):
                    result.record(orjson.loads(data), shape, time.perf_counter())
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.end(time.perf_counter())
    return result
