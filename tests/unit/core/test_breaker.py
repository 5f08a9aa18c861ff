"""core/breaker.py: closed → open → half-open → closed, with an injected clock."""

from __future__ import annotations

from cerebrum.core.breaker import CircuitBreaker, State


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(failures: int = 3, cooldown: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(failures, cooldown, clock=clock), clock


def test_starts_closed_and_lets_requests_through():
    cb, _ = breaker()
    assert cb.state is State.CLOSED
    assert cb.acquire()
    assert cb.acquire()


def test_opens_after_the_threshold_of_consecutive_failures():
    cb, _ = breaker(failures=3)
    cb.record_failure()
    cb.record_failure()
    assert cb.state is State.CLOSED
    cb.record_failure()
    assert cb.state is State.OPEN
    assert not cb.acquire()


def test_a_success_resets_the_failure_count():
    cb, _ = breaker(failures=2)
    cb.record_failure()
    cb.record_success()
    cb.record_failure()
    assert cb.state is State.CLOSED


def test_open_circuit_refuses_until_the_cooldown_has_passed():
    cb, clock = breaker(failures=1, cooldown=10)
    cb.record_failure()
    clock.now += 9.9
    assert not cb.available()
    assert not cb.acquire()
    clock.now += 0.1
    assert cb.state is State.HALF_OPEN
    assert cb.available()


def test_half_open_lets_exactly_one_probe_through():
    cb, clock = breaker(failures=1, cooldown=1)
    cb.record_failure()
    clock.now += 1
    assert cb.acquire()
    assert not cb.acquire()
    assert not cb.available()


def test_probe_success_closes_the_circuit():
    cb, clock = breaker(failures=1, cooldown=1)
    cb.record_failure()
    clock.now += 1
    cb.acquire()
    cb.record_success()
    assert cb.state is State.CLOSED
    assert cb.failures == 0


def test_probe_failure_reopens_for_a_full_cooldown():
    cb, clock = breaker(failures=5, cooldown=10)
    for _ in range(5):
        cb.record_failure()
    clock.now += 10
    cb.acquire()
    cb.record_failure()
    assert cb.state is State.OPEN
    clock.now += 9
    assert cb.state is State.OPEN
    assert cb.opened_total == 2


def test_released_probe_can_be_taken_again():
    cb, clock = breaker(failures=1, cooldown=1)
    cb.record_failure()
    clock.now += 1
    cb.acquire()
    cb.release()
    assert cb.acquire()


def test_retry_after_counts_down_in_whole_seconds():
    cb, clock = breaker(failures=1, cooldown=10)
    assert cb.retry_after() == 1
    cb.record_failure()
    assert cb.retry_after() == 10
    clock.now += 8.5
    assert cb.retry_after() == 2


def test_late_failure_of_an_earlier_request_does_not_extend_the_cooldown():
    cb, clock = breaker(failures=1, cooldown=10)
    cb.record_failure()
    clock.now += 6
    cb.record_failure()
    clock.now += 4
    assert cb.state is State.HALF_OPEN
