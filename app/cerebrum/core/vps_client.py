"""One llama-server backend: streamed generations, health, models.

Generations always stream from the backend (native ``/completion`` for a prompt,
``/v1/chat/completions`` for messages), even when the client wants one JSON answer, so the
orchestrator sees the first token, applies its idle timeout and can hang up at any moment.
The key (``CEREBRUM_API_KEY``) goes only into the ``Authorization`` header; no message built
here contains it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from cerebrum.core.errors import (
    BackendAuthError,
    BackendProtocolError,
    BackendRejectedError,
    BackendUnavailableError,
)
from cerebrum.core.generation import Chunk, Generation

_MESSAGE_LIMIT = 300
_GENERATION_PATHS = ("/completion", "/v1/chat/completions")


@dataclass(frozen=True, slots=True)
class BackendHealth:
    url: str
    reachable: bool
    status: str  # ok | loading | error | unreachable
    latency_ms: float | None
    http_status: int | None = None
    detail: str | None = None


class VpsClient:
    """A client for one llama-server, sharing the app's pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        api_key: str | None = None,
        health_timeout: float = 2.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = http
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # One connection per generation: llama-server b11312's router intermittently drops a
        # reused connection ("Server disconnected without sending a response"), and a stream
        # closed early must not leave a half-read connection in the pool anyway.
        self._json_headers = {
            **self._headers,
            "Content-Type": "application/json",
            "Connection": "close",
        }
        self._urls = {path: httpx.URL(self.url + path) for path in _GENERATION_PATHS}
        self._health_timeout = health_timeout
        self.in_flight = 0

    def __repr__(self) -> str:
        return f"VpsClient({self.url!r})"

    async def open(self, generation: Generation) -> Upstream:
        """Start a streamed generation; the caller must ``aclose()`` what it gets."""
        path, body = _request_body(generation)
        request = httpx.Request(
            "POST",
            self._urls[path],
            content=orjson.dumps(body),
            headers=self._json_headers,
            extensions={"timeout": self._http.timeout.as_dict()},
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise BackendUnavailableError(f"{self.url}: {_describe(exc)}") from None
        except httpx.TransportError as exc:
            raise BackendUnavailableError(f"{self.url} unreachable: {_describe(exc)}") from None
        if response.status_code != 200:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            finally:
                await response.aclose()
            raise _status_error(self.url, response)
        return Upstream(response, chat=generation.is_chat)

    async def health(self) -> BackendHealth:
        """GET /health (open on llama-server): 200 ok, 503 while a model loads."""
        started = time.perf_counter()
        try:
            response = await self._http.get(self.url + "/health", timeout=self._health_timeout)
        except httpx.HTTPError as exc:
            return BackendHealth(self.url, False, "unreachable", None, detail=_describe(exc))
        latency = round((time.perf_counter() - started) * 1000, 2)
        if response.status_code == 200:
            return BackendHealth(self.url, True, "ok", latency, 200)
        status = "loading" if response.status_code == 503 else "error"
        detail = _error_message(response)
        return BackendHealth(self.url, True, status, latency, response.status_code, detail)

    async def models(self) -> dict[str, str]:
        """Backend model id -> status (loaded, unloaded, loading, ...) from GET /models."""
        response = await self._http.get(
            self.url + "/models", headers=self._headers, timeout=self._health_timeout
        )
        if response.status_code != 200:
            raise _status_error(self.url, response)
        listing = response.json()
        result: dict[str, str] = {}
        for entry in listing.get("data", []) if isinstance(listing, dict) else []:
            if not isinstance(entry, dict) or "id" not in entry:
                continue
            status = entry.get("status")
            value = status.get("value") if isinstance(status, dict) else None
            result[str(entry["id"])] = str(value) if value else "loaded"
        return result


class Upstream:
    """An open streamed response from one backend, read as ``Chunk``s.

    Iteration ends after the chunk with ``done`` set; a stream that ends before it raises
    ``BackendProtocolError``. ``aclose()`` closes the connection, which is what tells
    llama-server to stop generating and free its slot.
    """

    def __init__(self, response: httpx.Response, chat: bool) -> None:
        self.response = response
        self._chat = chat
        self._body = response.aiter_bytes()
        self._events = EventParser()
        self._pending: deque[bytes] = deque()
        self._finished = False
        self._tokens = 0
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self._timings: dict[str, Any] | None = None

    def __aiter__(self) -> Upstream:
        return self

    async def __anext__(self) -> Chunk:
        if self._finished:
            raise StopAsyncIteration
        try:
            while (chunk := self.ready()) is None:
                data = await anext(self._body, None)
                if data is None:
                    raise BackendProtocolError("backend closed the stream before it finished")
                self._pending.extend(self._events.feed(data))
        except httpx.TimeoutException as exc:
            raise BackendUnavailableError(f"backend stream: {_describe(exc)}") from None
        except httpx.TransportError as exc:
            raise BackendProtocolError(f"backend stream broke off: {_describe(exc)}") from None
        return chunk

    def ready(self) -> Chunk | None:
        """The next chunk if it has already arrived (nothing is awaited), else None."""
        pending = self._pending
        while pending and not self._finished:
            chunk = self._parse(pending.popleft())
            if chunk is not None:
                self._finished = chunk.done
                return chunk
        return None

    async def aclose(self) -> None:
        await self.response.aclose()

    def _parse(self, data: bytes) -> Chunk | None:
        if self._chat and data.strip() == b"[DONE]":
            return Chunk(
                "",
                0,
                done=True,
                finish_reason=self._finish_reason,
                prompt_tokens=self._usage.get("prompt_tokens"),
                completion_tokens=self._usage.get("completion_tokens", self._tokens),
                timings=self._timings,
            )
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BackendProtocolError("backend sent an event that is not JSON") from None
        if not isinstance(payload, dict):
            raise BackendProtocolError("backend sent an unexpected event")
        if "error" in payload:
            raise BackendProtocolError(f"backend error: {_message_of(payload)}")
        return self._parse_chat(payload) if self._chat else self._parse_completion(payload)

    def _parse_completion(self, payload: dict[str, Any]) -> Chunk | None:
        text = str(payload.get("content") or "")
        predicted = payload.get("tokens_predicted")
        if isinstance(predicted, int):
            tokens, self._tokens = max(0, predicted - self._tokens), max(predicted, self._tokens)
        else:
            tokens = 1 if text else 0
            self._tokens += tokens
        if payload.get("stop"):
            evaluated = payload.get("tokens_evaluated")
            timings = payload.get("timings")
            return Chunk(
                text,
                tokens,
                done=True,
                finish_reason=_finish_reason(payload.get("stop_type")),
                prompt_tokens=evaluated if isinstance(evaluated, int) else None,
                completion_tokens=self._tokens,
                timings=timings if isinstance(timings, dict) else None,
            )
        if not text and not tokens:
            return None  # progress or an incomplete UTF-8 sequence
        return Chunk(text, tokens)

    def _parse_chat(self, payload: dict[str, Any]) -> Chunk | None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        timings = payload.get("timings")
        if isinstance(timings, dict):
            self._timings = timings
        choices = payload.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        if choice.get("finish_reason"):
            self._finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta") or {}
        text = str(delta.get("content") or "") if isinstance(delta, dict) else ""
        if not text:
            return None
        self._tokens += 1
        return Chunk(text, 1)


class EventParser:
    """Server-Sent Events to their data: ``feed`` bytes as they arrive, get back the data of
    each event completed so far (its ``data:`` lines joined by newlines; comments, ``event``,
    ``id`` and ``retry`` fields and events without data are skipped)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._after_cr = False  # the last piece ended with CR: a LF starting the next is its pair

    def feed(self, data: bytes) -> list[bytes]:
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = data.endswith(b"\r")
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + data
        *blocks, self._buffer = buffer.split(b"\n\n")
        events = []
        for block in blocks:
            lines = [
                line[5:].removeprefix(b" ") if line.startswith(b"data:") else b""
                for line in block.split(b"\n")
                if line.startswith(b"data:") or line == b"data"
            ]
            if lines:
                events.append(b"\n".join(lines))
        return events


def _request_body(generation: Generation) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"model": generation.model, "stream": True}
    if generation.temperature is not None:
        body["temperature"] = generation.temperature
    if generation.stop:
        body["stop"] = list(generation.stop)
    body.update(generation.sampling)
    if generation.messages is not None:
        body["messages"] = [{"role": r, "content": c} for r, c in generation.messages]
        body["max_tokens"] = generation.max_tokens
        body["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", body
    body["prompt"] = generation.prompt
    body["n_predict"] = generation.max_tokens
    body["cache_prompt"] = True
    return "/completion", body


def _finish_reason(stop_type: Any) -> str:
    return "length" if stop_type == "limit" else "stop"


def _status_error(url: str, response: httpx.Response) -> Exception:
    status = response.status_code
    if status in (401, 403):
        return BackendAuthError(
            f"{url} refused the orchestrator's key (HTTP {status}): check CEREBRUM_API_KEY "
            "against the backend's key (LLAMA_API_KEY)"
        )
    message = _error_message(response)
    if status == 429 or status >= 500:
        return BackendUnavailableError(f"{url} answered HTTP {status}: {message}")
    return BackendRejectedError(f"backend answered HTTP {status}: {message}", status)


def _error_message(response: httpx.Response) -> str:
    try:
        payload = orjson.loads(response.content)
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return response.reason_phrase or "error"
    return _message_of(payload) if isinstance(payload, dict) else "error"


def _message_of(payload: dict[str, Any]) -> str:
    error = payload.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or "error")[:_MESSAGE_LIMIT]


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MESSAGE_LIMIT]
