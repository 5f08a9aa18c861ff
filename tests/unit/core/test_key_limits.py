"""core/key_limits.py: requests per minute and at once, per key, one key never slowing another."""

from __future__ import annotations

from cerebrum.core.clients import Client, Limits
from cerebrum.core.key_limits import KeyLimits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ALICE = Client("alice", Limits(requests_per_minute=2))
BOB = Client("bob", Limits(requests_per_minute=2))


def test_a_key_over_its_requests_per_minute_is_refused_naming_the_limit_and_the_key():
    limits = KeyLimits(clock=Clock())
    assert limits.admit(ALICE) is None
    assert limits.admit(ALICE) is None
    refusal = limits.admit(ALICE)
    assert refusal is not None
    assert refusal.limit == "requests_per_minute"
    assert "'alice'" in refusal.message
    assert "2 requests per minute" in refusal.message
    assert refusal.retry_after == 30  # one request every 60/2 s


def test_one_key_at_its_limit_never_slows_another():
    limits = KeyLimits(clock=Clock())
    for _ in range(2):
        limits.admit(ALICE)
    assert limits.admit(ALICE) is not None
    assert limits.admit(BOB) is None
    assert limits.admit(BOB) is None


def test_the_minute_refills_continuously():
    clock = Clock()
    limits = KeyLimits(clock=clock)
    for _ in range(2):
        limits.admit(ALICE)
    clock.now += 29
    assert limits.admit(ALICE) is not None
    clock.now += 1.5
    assert limits.admit(ALICE) is None


def test_a_key_s_requests_at_once_are_bounded_and_given_back():
    carol = Client("carol", Limits(concurrent=1))
    dave = Client("dave", Limits(concurrent=1))
    limits = KeyLimits(busy_retry_after=2, clock=Clock())
    assert limits.admit(carol) is None
    refusal = limits.admit(carol)
    assert refusal is not None
    assert (refusal.limit, refusal.retry_after) == ("concurrent", 2)
    assert "'carol'" in refusal.message
    assert limits.admit(dave) is None
    limits.release(carol)
    assert limits.admit(carol) is None


def test_a_refusal_for_concurrency_spends_no_request_of_the_minute():
    erin = Client("erin", Limits(requests_per_minute=1, concurrent=1))
    limits = KeyLimits(clock=Clock())
    assert limits.admit(erin) is None
    assert limits.admit(erin).limit == "concurrent"  # type: ignore[union-attr]
    limits.release(erin)
    assert limits.admit(erin).limit == "requests_per_minute"  # type: ignore[union-attr]
