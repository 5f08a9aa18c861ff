"""HTTP to the orchestrator: the streaming completion and the JSON endpoints.

Every failure becomes a ``ReplError`` carrying one readable line (see ``errors``). A
``Completion`` is a context manager: leaving it, normally or by Ctrl-C (KeyboardInterrupt),
closes the HTTP response at once, and the orchestrator then cancels the generation upstream
and frees the backend's slot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from cerebrum import __version__
from cerebrum.repl.errors import ReplError, http_line, stream_error_line, transport_line
from cerebrum.sse_reader import EventTooLargeError, iter_events

STREAM_PATH = "/v1/complete/stream"
# The orchestrator sends a keep-alive comment every few seconds (CEREBRUM_PING_INTERVAL), even
# while a backend loads a model, so a long read timeout only ends a dead connection.
TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one streamed completion went, as the client saw it."""

    tokens: int
    elapsed: float  # seconds from sending the request to the end of the stream
    ttft: float | None  # seconds from sending the request to the first token
    request_id: str | None
    stopped: bool = False  # the user pressed Ctrl-C

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed after the first token (as the orchestrator's /v1/stats counts it)."""
        if self.ttft is None or self.tokens < 2 or self.elapsed <= self.ttft:
            return None
        return self.tokens / (self.elapsed - self.ttft)


class Client:
    """One HTTP connection pool to the orchestrator, sending the client key when there is one."""

    def __init__(
        self,
        url: str,
        key: str | None = None,
        *,
        timeout: httpx.Timeout = TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": f"cerebrum-repl/{__version__}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.url = url
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, accept: tuple[int, ...] = (200,)) -> Any:
        """The JSON answer of ``GET path`` (a status outside ``accept`` is a ReplError)."""
        try:
            response = self._http.get(path)
        except httpx.TransportError as exc:
            raise ReplError(transport_line(exc, self.url)) from None
        if response.status_code not in accept:
            raise ReplError(
                http_line(
                    response.status_code, response.content, response.headers.get("retry-after")
                )
            )
        try:
            return response.json()
        except ValueError:
            raise ReplError(f"{path}: the answer is not JSON") from None

    def complete(self, body: Mapping[str, Any]) -> Completion:
        """A streamed completion of ``body`` (the API's CompleteRequest), sent on entering it."""
        return Completion(self._http, self.url, body)


class Completion:
    """One ``POST /v1/complete/stream``: enter to send it, iterate for the tokens, exit to close.

    After the iteration, ``error`` holds the stream's final error event, if any.
    """

    def __init__(self, http: httpx.Client, url: str, body: Mapping[str, Any]) -> None:
        self._http = http
        self._url = url
        self._body = dict(body)
        self._stack = ExitStack()
        self._response: httpx.Response | None = None
        self._started = self._ended = 0.0
        self._first_token_at: float | None = None
        self.request_id: str | None = None
        self.tokens = 0
        self.error: dict[str, Any] | None = None

    def __enter__(self) -> Completion:
        self._started = time.perf_counter()
        try:
            self._response = self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._ended = self._ended or time.perf_counter()
        self._stack.close()

    def __iter__(self) -> Iterator[str]:
        """The token texts as they arrive; ends after the final event."""
        if self._response is None:
            raise RuntimeError("enter the completion before iterating it")
        try:
            for data in iter_events(self._response):
                event = _decode(data)
                if event.get("done"):
                    self._finish(event)
                    return
                token = event.get("token")
                if isinstance(token, str):
                    if self._first_token_at is None:
                        self._first_token_at = time.perf_counter()
                    self.tokens = _count(event.get("total_tokens"), self.tokens + 1)
                    yield token
        except httpx.TransportError as exc:
            raise ReplError(transport_line(exc, self._url, self.tokens)) from None
        except EventTooLargeError as exc:
            raise ReplError(f"{STREAM_PATH}: the orchestrator sent {exc}") from None
        self._ended = time.perf_counter()
        raise ReplError(f"the stream ended without its final event after {self.tokens} tokens")

    def error_line(self) -> str | None:
        """The final error event as one line, when the stream failed after it started."""
        return None if self.error is None else stream_error_line(self.error, self.tokens)

    def outcome(self, stopped: bool = False) -> Outcome:
        ended = self._ended or time.perf_counter()
        first = self._first_token_at
        return Outcome(
            tokens=self.tokens,
            elapsed=ended - self._started,
            ttft=None if first is None else first - self._started,
            request_id=self.request_id,
            stopped=stopped,
        )

    def _open(self) -> httpx.Response:
        headers = {"Accept": "text/event-stream"}
        request = self._http.stream("POST", STREAM_PATH, json=self._body, headers=headers)
        try:
            response = self._stack.enter_context(request)
        except httpx.TransportError as exc:
            raise ReplError(transport_line(exc, self._url)) from None
        self.request_id = response.headers.get("x-request-id")
        if response.status_code != 200:
            try:
                body = response.read()
            except httpx.TransportError:
                body = b""
            raise ReplError(
                http_line(response.status_code, body, response.headers.get("retry-after"))
            )
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            raise ReplError(f"{STREAM_PATH}: expected an event stream, got {content_type!r:.80}")
        return response

    def _finish(self, event: Mapping[str, Any]) -> None:
        self._ended = time.perf_counter()
        self.tokens = _count(event.get("total_tokens"), self.tokens)
        error = event.get("error")
        if error is not None:
            self.error = error if isinstance(error, dict) else {"message": str(error)}


def _decode(data: bytes) -> dict[str, Any]:
    """One event's JSON object; anything else (the OpenAI routes' [DONE]) is an empty one."""
    try:
        event = json.loads(data)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _count(value: object, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback
