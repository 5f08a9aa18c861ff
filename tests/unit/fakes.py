"""A scriptable fake llama-server (httpx.MockTransport) for the orchestrator's unit tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class FakeLlama:
    """Answers like llama-server b11312: /completion and /v1/chat/completions stream SSE.

    ``plan`` is a list of behaviours consumed one per generation request ("ok", "503",
    "401", "400", "500" (llama-server's own error answer), "refuse" (connection refused),
    "break" (dies after ``break_after`` tokens), "slow" (first token after ``delay``), "stall"
    (silent after the first token), "huge" (a first event of ``huge_bytes``), "burst" (every
    event in one chunk, as a fast backend's answer arrives)); when it is empty every request
    is "ok". ``health_status`` is what GET /health answers.
    """

    tokens: list[str] = field(default_factory=lambda: ["def", " f", "():", "\n", "  pass"])
    plan: list[str] = field(default_factory=list)
    delay: float = 0.0
    break_after: int = 2
    huge_bytes: int = 200_000
    health_status: int = 200
    models_status: dict[str, str] = field(default_factory=lambda: {"m1": "loaded"})
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def generations(self) -> int:
        return len(self.bodies)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/health":
            if self.health_status == 200:
                return httpx.Response(200, json={"status": "ok"})
            return httpx.Response(
                self.health_status, json={"error": {"message": "Loading model", "code": 503}}
            )
        if path == "/models":
            data = [{"id": k, "status": {"value": v}} for k, v in self.models_status.items()]
            return httpx.Response(200, json={"data": data})
        body = json.loads(request.content)
        self.bodies.append(body)
        behaviour = self.plan.pop(0) if self.plan else "ok"
        if behaviour == "refuse":
            raise httpx.ConnectError("Connection refused", request=request)
        if behaviour == "503":
            return httpx.Response(503, json={"error": {"message": "Loading model", "code": 503}})
        if behaviour == "401":
            return httpx.Response(
                401, json={"error": {"message": "Invalid API Key", "type": "authentication_error"}}
            )
        if behaviour == "500":
            return httpx.Response(
                500,
                json={
                    "error": {"code": 500, "message": "n_probs too large", "type": "server_error"}
                },
            )
        if behaviour == "400":
            return httpx.Response(
                400, json={"error": {"message": "model 'x' not found", "code": 400}}
            )
        chat = path == "/v1/chat/completions"
        index = len(self.closed)
        self.closed.append(False)
        stream = _Stream(self._events(behaviour, chat, body), lambda: self._close(index))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    def _close(self, index: int) -> None:
        self.closed[index] = True

    async def _events(
        self, behaviour: str, chat: bool, body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        limit = body.get("n_predict") or body.get("max_tokens") or len(self.tokens)
        tokens = self.tokens[:limit]
        if behaviour == "slow":
            await asyncio.sleep(self.delay)
        if behaviour == "huge":
            yield _sse({"content": "x", "stop": False, "probs": "p" * self.huge_bytes})
        if behaviour == "burst":
            yield b"".join(
                _sse({"content": token, "stop": False, "tokens_predicted": n})
                for n, token in enumerate(tokens, start=1)
            )
            tokens = []
        for n, token in enumerate(tokens, start=1):
            if behaviour == "break" and n > self.break_after:
                raise httpx.RemoteProtocolError("peer closed connection")
            if behaviour == "stall" and n == 2:
                await asyncio.sleep(3600)
            if chat:
                yield _sse(
                    {"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]}
                )
            else:
                yield _sse(
                    {
                        "content": token,
                        "tokens": [n],
                        "stop": False,
                        "tokens_predicted": n,
                        "tokens_evaluated": 3,
                    }
                )
            await asyncio.sleep(0)
        finish = "length" if len(tokens) == limit else "stop"
        if chat:
            yield _sse({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            usage = {
                "prompt_tokens": 3,
                "completion_tokens": len(tokens),
                "total_tokens": 3 + len(tokens),
            }
            yield _sse({"choices": [], "usage": usage})
            yield b"data: [DONE]\n\n"
        else:
            yield _sse({
                "content": "", "stop": True, "stop_type": "limit" if finish == "length" else "eos",
                "tokens_predicted": len(tokens), "tokens_evaluated": 3,
                "timings": {"predicted_per_second": 100.0},
            })  # fmt: skip


class _Stream(httpx.AsyncByteStream):
    def __init__(self, events: AsyncIterator[bytes], on_close: Callable[[], None]) -> None:
        self._events = events
        self._on_close = on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._events:
            yield chunk

    async def aclose(self) -> None:
        self._on_close()


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"
