"""core/router.py: backend choice, failover, retries only before the first token, timeouts."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import httpx
import pytest
from cerebrum.core.breaker import CircuitBreaker, State
from cerebrum.core.documents import Document
from cerebrum.core.errors import (
    AnswerTooLargeError,
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BackendRejectedError,
    BackendServerError,
    BackendTimeoutError,
    BackendUnavailableError,
    Blame,
    CircuitOpenError,
)
from cerebrum.core.generation import Generation
from cerebrum.core.llama_server import LlamaServerClient
from cerebrum.core.router import Backend, Router

from tests.unit.fakes import FakeLlama

pytestmark = pytest.mark.anyio

GEN = Generation(model="m1", max_tokens=5, prompt="x")


def make_router(
    *fakes: FakeLlama,
    retries: int = 0,
    failures: int = 3,
    max_bytes: int = 65536,
    max_answer_bytes: int = 1_048_576,
    **timeouts: float,
):
    backends = [
        Backend(
            LlamaServerClient(
                f"http://b{i}.test",
                httpx.AsyncClient(transport=fake.transport()),
                max_bytes=max_bytes,
                name=f"backend {i + 1}",
                max_answer_bytes=max_answer_bytes,
            ),
            CircuitBreaker(failures, cooldown=30),
        )
        for i, fake in enumerate(fakes)
    ]
    router = Router(
        backends,
        retries=retries,
        first_token_timeout=timeouts.get("first_token", 5.0),
        idle_timeout=timeouts.get("idle", 5.0),
        slots=2,
        retry_wait=0.001,
    )
    return router, [b.url for b in backends]


async def run(router: Router, urls: list[str]) -> str:
    async with aclosing(router.generate(urls, GEN)) as chunks:
        return "".join([chunk.text async for chunk in chunks])


def test_chooses_the_backend_with_the_fewest_requests_in_flight():
    router, urls = make_router(FakeLlama(), FakeLlama())
    router.backends[0].in_flight = 2
    assert router.choose(urls).url == urls[1]


def test_tied_backends_take_turns():
    router, urls = make_router(FakeLlama(), FakeLlama())
    assert {router.choose(urls).url for _ in range(4)} == set(urls)


def test_skips_a_backend_whose_circuit_is_open():
    router, urls = make_router(FakeLlama(), FakeLlama(), failures=1)
    router.backends[0].breaker.record_failure()
    assert {router.choose(urls).url for _ in range(4)} == {urls[1]}


def test_fails_fast_when_every_circuit_is_open():
    router, urls = make_router(FakeLlama(), failures=1)
    router.backends[0].breaker.record_failure()
    with pytest.raises(CircuitOpenError) as caught:
        router.check(urls)
    assert caught.value.retry_after == 30


async def test_streams_every_chunk_and_frees_the_backend():
    fake = FakeLlama()
    router, urls = make_router(fake)
    assert await run(router, urls) == "def f():\n  pass"
    assert router.backends[0].in_flight == 0
    assert fake.closed == [True]


async def test_retries_before_the_first_token_after_a_503():
    fake = FakeLlama(plan=["503", "ok"])
    router, urls = make_router(fake, retries=1)
    assert await run(router, urls)
    assert fake.generations == 2


async def test_fails_over_to_another_backend_when_one_refuses_connections():
    down, up = FakeLlama(plan=["refuse"] * 5), FakeLlama()
    router, urls = make_router(down, up, retries=1)
    router.backends[1].in_flight = 1  # make the dead one the first choice
    assert await run(router, [urls[0], urls[1]])
    assert down.generations == 1
    assert up.generations == 1


async def test_gives_up_after_the_configured_retries():
    fake = FakeLlama(plan=["503"] * 5)
    router, urls = make_router(fake, retries=2)
    with pytest.raises(BackendUnavailableError):
        await run(router, urls)
    assert fake.generations == 3


async def test_never_retries_once_a_token_was_produced():
    fake = FakeLlama(plan=["break", "ok"], break_after=2)
    router, urls = make_router(fake, retries=3)
    seen: list[str] = []

    async def consume() -> None:
        async with aclosing(router.generate(urls, GEN)) as chunks:
            async for chunk in chunks:
                seen.append(chunk.text)

    with pytest.raises(BackendProtocolError):
        await consume()
    assert seen == ["def", " f"]
    assert fake.generations == 1


async def test_a_refused_key_is_not_retried_on_the_same_backend_but_counts_as_a_failure():
    fake = FakeLlama(plan=["401", "ok"])
    router, urls = make_router(fake, retries=3)
    with pytest.raises(BackendAuthError):
        await run(router, urls)
    assert fake.generations == 1
    assert router.backends[0].breaker.failures == 1
    assert router.backends[0].in_flight == 0


async def test_a_backend_that_refuses_the_key_fails_over_to_the_next():
    stale, good = FakeLlama(plan=["401"]), FakeLlama()
    router, urls = make_router(stale, good, retries=1)
    router.backends[1].in_flight = 1  # make the stale one the first choice
    assert await run(router, urls) == "def f():\n  pass"
    assert (stale.generations, good.generations) == (1, 1)
    assert router.backends[0].breaker.failures == 1


async def test_failing_over_does_not_skew_the_rotation_onto_the_failing_backend():
    stale, good = FakeLlama(plan=["401"] * 20), FakeLlama()
    router, urls = make_router(stale, good, retries=1, failures=100)
    for _ in range(20):
        await run(router, urls)
    assert stale.generations == 10  # half the first choices; each then served by the other
    assert good.generations == 20


async def test_refused_keys_open_the_circuit_and_it_says_why():
    fake = FakeLlama(plan=["401"] * 3)
    router, urls = make_router(fake, failures=3)
    for _ in range(3):
        with pytest.raises(BackendAuthError):
            await run(router, urls)
    with pytest.raises(CircuitOpenError, match="last: backend_auth_error"):
        await run(router, urls)


async def test_no_first_token_within_the_timeout_is_a_backend_timeout():
    fake = FakeLlama(plan=["slow"], delay=1.0)
    router, urls = make_router(fake, first_token=0.05)
    with pytest.raises(BackendTimeoutError, match="no first token"):
        await run(router, urls)
    assert fake.closed == [True]


async def test_silence_mid_stream_is_a_backend_timeout():
    fake = FakeLlama(plan=["stall"])
    router, urls = make_router(fake, idle=0.05)
    with pytest.raises(BackendTimeoutError, match="sent nothing"):
        await run(router, urls)


async def test_consumer_leaving_early_closes_the_upstream_at_once():
    fake = FakeLlama(tokens=["a"] * 50)
    router, urls = make_router(fake)
    async with aclosing(
        router.generate(urls, Generation(model="m", max_tokens=50, prompt="x"))
    ) as chunks:
        await anext(chunks)
    assert fake.closed == [True]
    assert router.backends[0].in_flight == 0


async def test_cancelled_consumer_closes_the_upstream():
    fake = FakeLlama(tokens=["a"] * 3, plan=["stall"])
    router, urls = make_router(fake)

    async def consume() -> None:
        await run(router, urls)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.closed == [True]
    assert router.backends[0].in_flight == 0


async def test_retries_stop_with_the_real_error_when_the_circuit_opens():
    fake = FakeLlama(plan=["refuse"] * 5)
    router, urls = make_router(fake, retries=3, failures=2)
    with pytest.raises(BackendUnavailableError) as caught:
        await run(router, urls)
    assert not isinstance(caught.value, CircuitOpenError)
    assert "unreachable" in caught.value.message
    assert fake.generations == 2


async def test_repeated_failures_open_the_circuit():
    fake = FakeLlama(plan=["503"] * 5)
    router, urls = make_router(fake, failures=2)
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):
            await run(router, urls)
    assert router.backends[0].breaker.state is State.OPEN
    with pytest.raises(CircuitOpenError):
        await run(router, urls)
    assert fake.generations == 2


def test_a_document_keeps_its_backend_and_slot_until_its_backend_is_unavailable():
    router, urls = make_router(FakeLlama(), FakeLlama(), FakeLlama())
    document = Document("doc-1", "scope")
    home = router.choose(urls, document=document).url
    by_url = {backend.url: backend for backend in router.backends}
    by_url[home].in_flight = 5  # busy: it still queues on its own slot, where its cache is
    assert router.choose(urls, document=document).url == home
    assert document.home is not None
    assert document.home.url == home
    slot = document.home.slot
    assert router.choose(urls, document=document).url == home
    assert document.home.slot == slot
    for _ in range(3):
        by_url[home].breaker.record_failure("backend_unavailable")
    moved = router.choose(urls, document=document).url
    assert moved != home  # its circuit is open: the document moves
    assert router.choose(urls, exclude=[moved], document=document).url != moved  # tried


def test_new_documents_go_to_the_backend_with_free_slots_and_the_least_load():
    router, urls = make_router(FakeLlama(), FakeLlama())
    router.backends[0].in_flight = 1
    first = router.choose(urls, document=Document("doc-1", "s")).url
    assert first == urls[1]  # both have two free slots: the less loaded one
    assert router.choose(urls, document=Document("doc-2", "s")).url == urls[0]  # more free


async def test_a_documents_generation_is_pinned_to_its_slot():
    fake = FakeLlama()
    router, urls = make_router(fake)
    document = Document("doc-1", "s")
    async with aclosing(router.generate(urls, GEN, document)) as pieces:
        _ = [piece async for piece in pieces]
    assert document.home is not None
    assert fake.bodies[0]["id_slot"] == document.home.slot
    async with aclosing(router.generate(urls, GEN)) as pieces:
        _ = [piece async for piece in pieces]
    assert "id_slot" not in fake.bodies[1]  # no document: the backend picks the slot


# Blame: only the backend's own failures count and are retried.


async def test_a_request_the_backend_refuses_is_neither_retried_nor_counted():
    fake = FakeLlama(plan=["400", "ok"])
    router, urls = make_router(fake, retries=2, failures=1)
    with pytest.raises(BackendRejectedError):
        await run(router, urls)
    assert fake.generations == 1
    assert router.backends[0].breaker.failures == 0


async def test_an_oversized_answer_from_a_healthy_backend_is_the_requests_alone():
    fake = FakeLlama(plan=["huge"] * 5)
    router, urls = make_router(fake, retries=2, failures=1)
    for _ in range(5):  # one request every few seconds must not keep the service down
        with pytest.raises(BackendProtocolError) as caught:
            await run(router, urls)
        assert caught.value.blame is Blame.REQUEST
        assert "CEREBRUM_BACKEND_MAX_BYTES" in caught.value.message
        assert "this request caused it" in caught.value.message
    assert fake.generations == 5  # never retried
    assert router.backends[0].breaker.state is State.CLOSED
    assert await run(router, urls) == "def f():\n  pass"  # the next client is served


async def test_llama_servers_own_500_from_a_healthy_backend_is_the_requests_alone():
    fake = FakeLlama(plan=["500"] * 3)
    router, urls = make_router(fake, retries=2, failures=1)
    with pytest.raises(BackendServerError, match="n_probs too large"):
        await run(router, urls)
    assert fake.generations == 1
    assert router.backends[0].breaker.state is State.CLOSED


async def test_an_ambiguous_failure_on_a_backend_whose_health_fails_is_charged_and_retried():
    fake = FakeLlama(plan=["500"] * 3, health_status=503)
    router, urls = make_router(fake, retries=1, failures=2)
    with pytest.raises(BackendServerError) as caught:
        await run(router, urls)
    assert caught.value.blame is Blame.BACKEND
    assert fake.generations == 2
    assert router.backends[0].breaker.state is State.OPEN


async def test_a_slow_first_token_is_charged_only_when_the_backend_is_unwell():
    healthy = FakeLlama(plan=["slow"], delay=1.0)
    router, urls = make_router(healthy, first_token=0.05, failures=1)
    with pytest.raises(BackendTimeoutError):
        await run(router, urls)
    assert router.backends[0].breaker.state is State.CLOSED
    unwell = FakeLlama(plan=["slow"], delay=1.0, health_status=503)
    router, urls = make_router(unwell, first_token=0.05, failures=1)
    with pytest.raises(BackendTimeoutError):
        await run(router, urls)
    assert router.backends[0].breaker.state is State.OPEN


async def test_a_backend_that_dies_mid_stream_is_charged():
    fake = FakeLlama(plan=["break"], health_status=503)
    router, urls = make_router(fake, failures=1)
    with pytest.raises(BackendProtocolError):
        await run(router, urls)
    assert router.backends[0].breaker.state is State.OPEN


async def test_an_answer_beyond_max_answer_bytes_ends_that_request_alone():
    fake = FakeLlama(tokens=["x" * 1000] * 200)
    router, urls = make_router(fake, retries=2, failures=1, max_answer_bytes=50_000)
    generation = Generation(model="m", max_tokens=200, prompt="x")

    async def consume() -> None:
        async with aclosing(router.generate(urls, generation)) as chunks:
            async for _ in chunks:
                pass

    with pytest.raises(AnswerTooLargeError, match="CEREBRUM_MAX_ANSWER_BYTES"):
        await consume()
    assert fake.closed == [True]
    assert router.backends[0].breaker.state is State.CLOSED


@pytest.mark.parametrize("plan", ["refuse", "503", "500", "huge", "break", "401"])
async def test_failures_name_the_backend_never_its_url(plan):
    fake = FakeLlama(plan=[plan] * 3, health_status=503)
    router, urls = make_router(fake, failures=1)
    with pytest.raises(BackendError) as caught:
        await run(router, urls)
    assert "backend 1" in caught.value.message
    assert "b0.test" not in caught.value.message
    assert "b0.test" in caught.value.internal or plan in ("huge", "break")
    with pytest.raises(CircuitOpenError) as opened:
        await run(router, urls)
    assert "backend 1" in opened.value.message
    assert "b0.test" not in opened.value.message


# Fairness: a large answer that arrives at once does not hold the event loop.


async def test_a_large_answer_that_arrives_at_once_yields_to_the_event_loop():
    fake = FakeLlama(plan=["burst"], tokens=["y" * 1000] * 1000)  # ~1 MB in one chunk
    router, urls = make_router(fake, max_answer_bytes=4_000_000)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    generation = Generation(model="m", max_tokens=1000, prompt="x")
    async with aclosing(router.generate(urls, generation)) as chunks:
        texts = [chunk.text async for chunk in chunks]
    stop.set()
    await task
    assert len(texts) == 1001
    assert ticks >= 10  # ~1 MB: at least one yield per 64 KiB handled
