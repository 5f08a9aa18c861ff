"""One llama-server backend: streamed generations, health, models.

Generations always stream from the backend (llama-server's own ``/completion`` for a prompt,
``/v1/chat/completions`` for messages), even when the client wants one JSON answer, so the
orchestrator sees the first token, applies its idle timeout and can hang up at any moment.
The key (``CEREBRUM_API_KEY``) goes only into the ``Authorization`` header; no message built
here contains it.

Every read from a backend is bounded: an SSE event, a /health or /models answer is at most
``max_bytes`` (an error body at most ``_ERROR_BODY_LIMIT``), probes finish within
``health_timeout`` seconds in total, and a compressed answer is refused (the client asks
for ``Accept-Encoding: identity``; a decoded size would be unbounded). Anything a backend
sends that does not have the expected shape is a ``BackendProtocolError`` (502
``backend_error``), never a client error or a crash. One generation's answer is at most
``max_answer_bytes`` in all (``AnswerTooLargeError``, the request's fault).

Messages name the backend by its ``name`` (``backend 2``), never by its URL: they reach
clients. The URL and the transport's own words (which may hold an address) go only into the
exception's ``internal`` text, for the log; a backend's error message is passed on shortened,
with any address in it blanked out. Which failure is whose is decided in ``_status_error``
and by the exception types (see ``core/errors.py``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from cerebrum.core.errors import (
    AnswerTooLargeError,
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BackendRejectedError,
    BackendServerError,
    BackendUnavailableError,
)
from cerebrum.core.generation import Generation, Piece
from cerebrum.sse_reader import DEFAULT_MAX_BYTES, EventParser, EventTooLargeError

_MESSAGE_LIMIT = 300
_ERROR_BODY_LIMIT = 65536  # an error answer is read this far for its message, no further
_GENERATION_PATHS = ("/completion", "/v1/chat/completions")
DEFAULT_MAX_ANSWER_BYTES = 32 * 1_048_576  # as CEREBRUM_MAX_ANSWER_BYTES's default
# an address in a backend's own words (a URL, host:port, an IP): never shown to clients
_ADDRESS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://\S+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9A-Fa-f:.]+\](?::\d+)?"
)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BackendHealth:
    name: str  # "backend 2": what clients see instead of the URL
    reachable: bool
    status: str  # ok | loading | auth | error | unreachable
    latency_ms: float | None
    detail: str | None = None


class LlamaServerClient:
    """A client for one llama-server, sharing the app's pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        api_key: str | None = None,
        health_timeout: float = 2.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        name: str = "backend",
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name
        self.max_answer_bytes = max_answer_bytes
        self._http = http
        self._headers = {"Accept-Encoding": "identity"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
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
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"LlamaServerClient({self.url!r})"

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
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code != 200:
            try:
                error_body = await _read(response, _ERROR_BODY_LIMIT, truncate=True)
            except (httpx.HTTPError, BackendProtocolError):
                error_body = b""
            finally:
                await response.aclose()
            raise self._status_error(response.status_code, response.reason_phrase, error_body)
        try:
            _uncompressed(response)
        except BackendProtocolError:
            await response.aclose()
            raise
        return Upstream(
            response,
            chat=generation.is_chat,
            max_bytes=self.max_bytes,
            completions=generation.results,
            name=self.name,
            max_answer_bytes=self.max_answer_bytes,
        )

    async def alive(self) -> bool:
        """Whether GET /health answers 200 within ``health_timeout`` (the router's check
        of who is to blame for a failure: no key needed, no slot taken)."""
        try:
            async with asyncio.timeout(self._health_timeout):
                status, _, _ = await self._request("GET", "/health")
        except Exception:  # no answer, a broken one, a transport that cannot: not alive
            return False
        return status == 200

    async def health(self) -> BackendHealth:
        """GET /health (open on llama-server: 200 ok, 503 while a model loads), then, when it
        is ok, GET /models with the key: a backend that refuses the key reports ``auth``."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._health_timeout):
                status, reason, body = await self._request("GET", "/health")
                latency = round((time.perf_counter() - started) * 1000, 2)
                if status == 200:
                    status, reason, body = await self._request("GET", "/models")
                    if status not in (401, 403):
                        return BackendHealth(self.name, True, "ok", latency)
                    detail = _auth_message(self.name, status)
                    return BackendHealth(self.name, True, "auth", latency, detail)
        except TimeoutError:
            detail = f"no complete answer within {self._health_timeout:g} s"
            return BackendHealth(self.name, False, "unreachable", None, detail)
        except httpx.HTTPError as exc:
            return BackendHealth(self.name, False, "unreachable", None, type(exc).__name__)
        except BackendProtocolError as exc:
            return BackendHealth(self.name, True, "error", None, exc.message)
        state = "loading" if status == 503 else "error"
        return BackendHealth(self.name, True, state, latency, _error_message(body, reason))

    async def models(self) -> dict[str, str]:
        """Backend model id -> status (loaded, unloaded, loading, ...) from GET /models."""
        body = await self._answer("GET", "/models")
        try:
            listing = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BackendProtocolError(f"{self.name}/models: the answer is not JSON") from None
        entries = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            raise BackendProtocolError(f"{self.name}/models: the answer has no list of models")
        result: dict[str, str] = {}
        for entry in entries:
            if not isinstance(entry, dict) or "id" not in entry:
                continue
            status_of = entry.get("status")
            value = status_of.get("value") if isinstance(status_of, dict) else None
            result[str(entry["id"])] = str(value) if value else "loaded"
        return result

    async def tokenize(self, model: str, text: str) -> int:
        """How many tokens the model's tokenizer makes of ``text`` (POST /tokenize, special
        tokens parsed as /completion parses its prompt, no BOS); bounded like the probes."""
        content = orjson.dumps(
            {"model": model, "content": text, "add_special": False, "parse_special": True}
        )
        body = await self._answer("POST", "/tokenize", content)
        try:
            tokens = orjson.loads(body).get("tokens")
        except (orjson.JSONDecodeError, AttributeError):
            tokens = None
        if not isinstance(tokens, list):
            raise BackendProtocolError(f"{self.name}/tokenize answered without a token list")
        return len(tokens)

    async def _answer(self, method: str, path: str, content: bytes | None = None) -> bytes:
        """The body of a 200 answer to a bounded request (``health_timeout`` in all, at most
        ``max_bytes``); no complete answer in time or no connection is
        BackendUnavailableError, another status the error it stands for."""
        try:
            async with asyncio.timeout(self._health_timeout):
                status, reason, body = await self._request(method, path, content)
        except TimeoutError:
            raise BackendUnavailableError(
                f"{self.name}{path}: no complete answer within {self._health_timeout:g} s",
                internal=self.url,
            ) from None
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if status != 200:
            raise self._status_error(status, reason, body)
        return body

    def _unreachable(self, exc: httpx.HTTPError) -> BackendUnavailableError:
        """No connection, or no answer in time: the backend's failure (the exception's own
        text, which may hold the address, goes to the log only)."""
        what = (
            "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "unreachable"
        )
        return BackendUnavailableError(
            f"{self.name} {what} ({type(exc).__name__})",
            internal=f"{self.url}: {_describe(exc)}",
        )

    def _status_error(self, status: int, reason: str, body: bytes) -> BackendError:
        """The error a non-200 answer stands for, and whose it is (see ``core/errors.py``):
        a refused key, 429 or a 5xx that is not llama-server's own error answer (a proxy,
        a model still loading: 503) are the backend's; a 4xx is the request's, its message
        (which names the parameter) passed on; llama-server's own 500 answer is either's."""
        if status in (401, 403):
            return BackendAuthError(_auth_message(self.name, status), internal=self.url)
        message = _error_message(body, reason)
        internal = f"{self.url} answered HTTP {status}: {message}"
        if status < 500 and status != 429:
            return BackendRejectedError(
                f"backend answered HTTP {status}: {message}", status, internal=internal
            )
        if status == 500 and _is_llama_error(body):
            return BackendServerError(
                f"{self.name} answered HTTP 500: {message}", internal=internal
            )
        return BackendUnavailableError(
            f"{self.name} answered HTTP {status}: {message}", internal=internal
        )

    async def _request(
        self, method: str, path: str, content: bytes | None = None
    ) -> tuple[int, str, bytes]:
        """``path`` with the key (and a JSON ``content``): status, reason and body (at most
        ``max_bytes``)."""
        headers = self._headers if content is None else self._json_headers
        async with self._http.stream(
            method,
            self.url + path,
            content=content,
            headers=headers,
            timeout=self._health_timeout,
        ) as response:
            body = await _read(response, self.max_bytes)
            return response.status_code, response.reason_phrase, body


class Upstream:
    """An open streamed response from one backend, read as pieces.

    Iteration ends after the piece with ``done`` set; a stream that ends before it raises
    ``BackendProtocolError``, as does an event larger than ``max_bytes`` or one without the
    shape llama-server gives it. ``aclose()`` closes the connection, which is what tells
    llama-server to stop generating and free its slot.
    """

    def __init__(
        self,
        response: httpx.Response,
        chat: bool,
        max_bytes: int = DEFAULT_MAX_BYTES,
        completions: int = 1,
        *,
        name: str = "backend",
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.response = response
        self.name = name
        self.max_answer_bytes = max_answer_bytes
        self.received = 0  # bytes of the answer read so far
        self.handled = 0  # bytes of its events parsed so far
        self._chat = chat
        self._body = response.aiter_bytes()
        self._events = EventParser(max_bytes)
        self._pending: deque[bytes] = deque()
        self._finished = False
        self._tokens = 0
        self._predicted: dict[int, int] = {}  # tokens predicted so far, per completion index
        self._open = completions  # completions whose last event has not come yet
        self._finish_reason: str | None = None
        self._prompt_tokens: int | None = None
        self._completion_tokens: int | None = None
        self._timings: dict[str, Any] | None = None

    def __aiter__(self) -> Upstream:
        return self

    async def __anext__(self) -> Piece:
        if self._finished:
            raise StopAsyncIteration
        name = self.name
        try:
            while (piece := self.ready()) is None:
                data = await anext(self._body, None)
                if data is None:
                    raise BackendProtocolError(f"{name} closed the stream before it finished")
                self.received += len(data)
                if self.received > self.max_answer_bytes:
                    raise AnswerTooLargeError(
                        f"the answer to this request grew beyond {self.max_answer_bytes} bytes "
                        "(CEREBRUM_MAX_ANSWER_BYTES); ask for less (n_predict, n_probs, n_cmpl)"
                    )
                self._pending.extend(self._events.feed(data))
        except EventTooLargeError as exc:
            raise BackendProtocolError(
                f"{name} sent {exc} (CEREBRUM_BACKEND_MAX_BYTES); a request asking for much "
                "per token (n_probs) makes such events"
            ) from None
        except httpx.TimeoutException as exc:
            raise BackendUnavailableError(
                f"{name} stream timed out", internal=_describe(exc)
            ) from None
        except httpx.TransportError as exc:
            raise BackendProtocolError(
                f"{name} stream broke off ({type(exc).__name__})", internal=_describe(exc)
            ) from None
        return piece

    def ready(self) -> Piece | None:
        """The next piece if it has already arrived (nothing is awaited), else None."""
        pending = self._pending
        while pending and not self._finished:
            data = pending.popleft()
            self.handled += len(data)
            piece = self._parse(data)
            if piece is not None:
                self._finished = piece.done
                return piece
        return None

    async def aclose(self) -> None:
        await self.response.aclose()

    def _parse(self, data: bytes) -> Piece | None:
        if self._chat and data.strip() == b"[DONE]":
            completion_tokens = self._completion_tokens
            return Piece(
                "",
                0,
                done=True,
                finish_reason=self._finish_reason,
                prompt_tokens=self._prompt_tokens,
                completion_tokens=self._tokens if completion_tokens is None else completion_tokens,
                timings=self._timings,
                cached_tokens=_count(self._timings, "cache_n") if self._timings else None,
            )
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BackendProtocolError(f"{self.name} sent an event that is not JSON") from None
        if payload is None and not self._chat:
            return None  # what /completion streams first for a list of prompts: no result yet
        if not isinstance(payload, dict):
            raise BackendProtocolError(f"{self.name} sent an unexpected event")
        if "error" in payload:
            raise BackendServerError(f"{self.name} error: {_message_of(payload)}")
        try:
            return self._parse_chat(payload) if self._chat else self._parse_completion(payload)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            # the checks below name what is wrong; this guards whatever they did not foresee
            raise BackendProtocolError(
                f"{self.name} sent a malformed event ({type(exc).__name__})"
            ) from None

    def _parse_completion(self, payload: dict[str, Any]) -> Piece | None:
        text = _typed(payload, "content", str) or ""
        index = _count(payload, "index") or 0
        predicted = _count(payload, "tokens_predicted")
        if predicted is not None:
            before = self._predicted.get(index, 0)
            tokens = max(0, predicted - before)
            self._predicted[index] = max(predicted, before)
        else:
            tokens = 1 if text else 0
        self._tokens += tokens
        if payload.get("stop"):
            self._open -= 1
            timings = _typed(payload, "timings", dict)
            return Piece(
                text,
                tokens,
                done=self._open <= 0,
                finish_reason=_finish_reason(payload.get("stop_type")),
                prompt_tokens=_count(payload, "tokens_evaluated"),
                completion_tokens=self._tokens,
                timings=timings,
                cached_tokens=_count(timings, "cache_n") if timings is not None else None,
                index=index,
                event=payload,
            )
        if not text and not tokens:
            return None  # progress or an incomplete UTF-8 sequence
        return Piece(text, tokens, index=index, event=payload)

    def _parse_chat(self, payload: dict[str, Any]) -> Piece | None:
        usage = _typed(payload, "usage", dict)
        if usage is not None:
            self._prompt_tokens = _count(usage, "prompt_tokens")
            self._completion_tokens = _count(usage, "completion_tokens")
        timings = _typed(payload, "timings", dict)
        if timings is not None:
            self._timings = timings
        choices = _typed(payload, "choices", list)
        if not choices:
            return None
        choice = choices[0]
        if not isinstance(choice, dict):
            raise BackendProtocolError("backend sent a choice that is not an object")
        finish_reason = _typed(choice, "finish_reason", str)
        if finish_reason:
            self._finish_reason = finish_reason
        delta = _typed(choice, "delta", dict) or {}
        text = _typed(delta, "content", str) or ""
        if not text:
            return None
        self._tokens += 1
        return Piece(text, 1)


def _request_body(generation: Generation) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"model": generation.model, "stream": True}
    if generation.temperature is not None:
        body["temperature"] = generation.temperature
    if generation.stop:
        body["stop"] = list(generation.stop)
    body.update(generation.sampling)
    if generation.completions > 1:
        body["n_cmpl"] = generation.completions
    if generation.slot is not None:
        body["id_slot"] = generation.slot
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


def _auth_message(name: str, status: int) -> str:
    return (
        f"{name} refused the orchestrator's key (HTTP {status}): check CEREBRUM_API_KEY "
        "against the backend's key (LLAMA_API_KEY)"
    )


def _is_llama_error(body: bytes) -> bool:
    """llama-server's own error answer: ``{"error": {"code": ..., "message": ...}}``."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    error = payload.get("error") if isinstance(payload, dict) else None
    return isinstance(error, dict) and isinstance(error.get("message"), str)


def _error_message(body: bytes, reason: str) -> str:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return reason or "error"
    return _message_of(payload) if isinstance(payload, dict) else "error"


async def _read(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """The response body, at most ``limit`` bytes: beyond, the first ``limit`` bytes when
    ``truncate``, else ``BackendProtocolError``."""
    _uncompressed(response)
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            raise BackendProtocolError(
                f"answer larger than {limit} bytes (CEREBRUM_BACKEND_MAX_BYTES)"
            )
    return bytes(body)


def _uncompressed(response: httpx.Response) -> None:
    """Refuse a compressed body: its size once decoded is unbounded."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", ""):
        raise BackendProtocolError(f"backend sent a compressed answer ({encoding[:20]})")


def _count(payload: dict[str, Any], key: str) -> int | None:
    """A token count the backend may leave out; anything but a whole number >= 0 is an error."""
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BackendProtocolError(f"backend sent {key!r} that is not a count")
    return value


def _typed(payload: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """``payload[key]`` when it is a ``kind`` or absent/null; any other type is an error."""
    value = payload.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise BackendProtocolError(f"backend sent {key!r} of the wrong type")


def _message_of(payload: dict[str, Any]) -> str:
    """The backend's error message, shortened, with any address in it blanked out."""
    error = payload.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return _ADDRESS.sub("<address>", str(message or "error")[:_MESSAGE_LIMIT])


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MESSAGE_LIMIT]
