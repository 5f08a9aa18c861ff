"""api/journey.py: one life cycle for every inference route (the routes' own shapes are
tested in tests/unit/api/routes/)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from cerebrum.api.journey import Outcome
from cerebrum.core.generation import Piece

pytestmark = pytest.mark.anyio


def tracker(tokens: int) -> SimpleNamespace:
    return SimpleNamespace(tokens=tokens, ttft=0.25, tokens_per_second=lambda: 40.0)


def test_outcome_counts_tokens_as_they_come_and_keeps_the_last_pieces_figures():
    outcome = Outcome()
    outcome.add(Piece("def", 1), tracker(1))
    assert (outcome.tokens, outcome.finish_reason, outcome.finished) == (1, None, None)
    last = Piece(
        " f", 1, done=True, finish_reason="length", prompt_tokens=9, completion_tokens=5,
        cached_tokens=4, timings={"prompt_n": 5},
    )  # fmt: skip
    outcome.add(last, tracker(2))
    assert outcome.tokens == 5  # the backend's own count wins at the end
    assert (outcome.finish_reason, outcome.prompt_tokens, outcome.cached_tokens) == (
        "length", 9, 4,
    )  # fmt: skip
    assert (outcome.ttft, outcome.tokens_per_second) == (0.25, 40.0)
    assert outcome.finished is not None
    assert outcome.elapsed == outcome.finished - outcome.started


def test_outcome_keeps_the_text_only_when_asked():
    streamed, collected = Outcome(), Outcome(keep_text=True)
    for outcome in (streamed, collected):
        outcome.add(Piece("def", 1), tracker(1))
        outcome.add(Piece(" f", 1, done=True), tracker(2))
    assert streamed.text == ""
    assert collected.text == "def f"


async def test_a_superseded_request_is_answered_409_counted_once_and_not_a_failure(
    client, fake_llama, caplog
):
    """The seed API's named session: the older request, still waiting for its first
    token, is stopped by the newer one."""
    import anyio

    fake_llama.plan = ["slow", "ok"]
    fake_llama.delay = 5.0
    body = {"prompt": "def f", "max_tokens": 2, "session": "a.py"}
    answers = {}

    async def send(name: str) -> None:
        answers[name] = await client.post("/v1/complete", json=body)

    caplog.set_level(logging.INFO)
    async with anyio.create_task_group() as group:
        group.start_soon(send, "older")
        with anyio.fail_after(5):
            while fake_llama.generations < 1:  # noqa: ASYNC110 - the fake has no event to wait on
                await anyio.sleep(0.01)
        group.start_soon(send, "newer")
    assert answers["older"].status_code == 409
    assert answers["older"].json()["error"]["type"] == "superseded"
    assert answers["newer"].status_code == 200
    stats = (await client.get("/v1/stats")).json()
    assert stats["requests"]["superseded"] == 1
    assert stats["documents"]["remembered"] == 1
    assert stats["requests"]["failed"] == 0
    assert stats["models"]["m1"]["failed"] == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
