"""core/token_counts.py: exact counts remembered, and /tokenize calls bounded per request and
for the whole app."""

from __future__ import annotations

import asyncio
import json

import anyio
import httpx
import pytest
from cerebrum.core.llama_server import LlamaServerClient
from cerebrum.core.token_counts import TokenCounts

pytestmark = pytest.mark.anyio


class Tokenizer:
    """A /tokenize that answers one token per character, after ``delay`` seconds, and
    records how many calls were in flight at once."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.delay = delay
        self.status = status
        self.calls = 0
        self.in_flight = 0
        self.most = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "no", "code": 500}})
        text = json.loads(request.content)["content"]
        return httpx.Response(200, json={"tokens": list(range(len(text)))})

    def client(self) -> LlamaServerClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return LlamaServerClient("http://b.test", http, health_timeout=5.0)


def texts(n: int, prefix: str = "t") -> dict[str, str]:
    return {f"{prefix}{i}": "x" * (i + 1) for i in range(n)}


async def test_counts_are_asked_once_and_remembered():
    tokenizer = Tokenizer()
    counts = TokenCounts()
    first = await counts.count(tokenizer.client(), "m", texts(3), 5.0)
    again = await counts.count(tokenizer.client(), "m", texts(3), 5.0)
    assert first == again == {"t0": 1, "t1": 2, "t2": 3}
    assert tokenizer.calls == counts.calls == 3


async def test_one_request_counts_at_most_per_request_texts():
    tokenizer = Tokenizer()
    counts = TokenCounts(per_request=8)
    found = await counts.count(tokenizer.client(), "m", texts(48), 5.0)
    assert len(found) == 8
    assert tokenizer.calls == 8
    assert counts.skipped == 40


async def test_tokenize_calls_in_flight_are_bounded_for_every_request_together():
    tokenizer = Tokenizer(delay=0.02)
    counts = TokenCounts(concurrency=4, per_request=8)
    client = tokenizer.client()
    async with anyio.create_task_group() as group:
        for n in range(10):  # ten requests at once, each with texts of its own
            group.start_soon(counts.count, client, "m", texts(8, f"r{n}-"), 5.0)
    assert tokenizer.most == 4
    assert counts.calls == 80


async def test_calls_that_cannot_start_before_the_deadline_are_not_made():
    tokenizer = Tokenizer(delay=0.2)
    counts = TokenCounts(concurrency=1, per_request=8)
    found = await counts.count(tokenizer.client(), "m", texts(8), 0.3)
    assert len(found) == 1
    assert tokenizer.calls == 2  # the second was cut by the deadline; six never started
    assert counts.skipped == 6


async def test_a_failing_tokenizer_is_counted_and_leaves_the_texts_out():
    tokenizer = Tokenizer(status=500)
    counts = TokenCounts()
    assert await counts.count(tokenizer.client(), "m", texts(2), 5.0) == {}
    assert (counts.calls, counts.failed) == (2, 2)
