"""core/limiter.py: bounded in flight, bounded FIFO queue, immediate shedding beyond."""

from __future__ import annotations

import asyncio

import pytest
from cerebrum.core.errors import OverloadedError
from cerebrum.core.limiter import Limiter

pytestmark = pytest.mark.anyio


async def test_admits_up_to_max_in_flight_at_once():
    limiter = Limiter(max_in_flight=2, max_queue=0, queue_timeout=1)
    await limiter.acquire()
    await limiter.acquire()
    assert limiter.in_flight == 2


async def test_sheds_at_once_when_in_flight_and_queue_are_full():
    limiter = Limiter(max_in_flight=1, max_queue=0, queue_timeout=10, retry_after=3)
    await limiter.acquire()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(OverloadedError) as caught:
        await limiter.acquire()
    assert loop.time() - started < 0.05
    assert caught.value.retry_after == 3
    assert limiter.shed_total == 1


async def test_queued_requests_get_freed_places_in_arrival_order():
    limiter = Limiter(max_in_flight=1, max_queue=2, queue_timeout=5)
    await limiter.acquire()
    order: list[str] = []

    async def wait(name: str) -> None:
        await limiter.acquire()
        order.append(name)

    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0)
    assert limiter.queued == 2
    limiter.release()
    await first
    limiter.release()
    await second
    assert order == ["first", "second"]
    assert limiter.in_flight == 1


async def test_request_beyond_the_queue_is_shed_while_others_wait():
    limiter = Limiter(max_in_flight=1, max_queue=1, queue_timeout=5)
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    with pytest.raises(OverloadedError):
        await limiter.acquire()
    limiter.release()
    await waiting


async def test_queue_wait_times_out_as_overloaded():
    limiter = Limiter(max_in_flight=1, max_queue=1, queue_timeout=0.05)
    await limiter.acquire()
    with pytest.raises(OverloadedError, match="no place freed"):
        await limiter.acquire()
    assert limiter.queued == 0


async def test_cancelled_waiter_leaves_the_queue_without_taking_a_place():
    limiter = Limiter(max_in_flight=1, max_queue=1, queue_timeout=5)
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.queued == 0
    limiter.release()
    assert limiter.in_flight == 0
