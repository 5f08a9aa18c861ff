"""retrieval/deadline.py: a time budget and a cancellation flag, checked by the pipeline."""

from __future__ import annotations

import threading

import pytest
from cerebrum.retrieval.deadline import Deadline, OutOfTime, PipelineCancelled


class Clock:
    """A clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_check_before_the_budget_is_spent_passes():
    clock = Clock()
    deadline = Deadline(2.0, clock=clock)
    clock.now += 1.9
    deadline.check()


def test_a_check_once_the_budget_is_spent_raises_out_of_time():
    clock = Clock()
    deadline = Deadline(2.0, clock=clock)
    clock.now += 2.0
    with pytest.raises(OutOfTime):
        deadline.check()


def test_without_a_budget_time_never_runs_out():
    clock = Clock()
    deadline = Deadline(clock=clock)
    clock.now += 1e9
    deadline.check()


def test_a_cancelled_deadline_raises_cancelled_even_with_time_left():
    deadline = Deadline(60.0, clock=Clock())
    deadline.cancel()
    assert deadline.cancelled
    with pytest.raises(PipelineCancelled):
        deadline.check()


def test_a_cancel_from_another_thread_is_seen_at_the_next_check():
    deadline = Deadline()
    canceller = threading.Thread(target=deadline.cancel)
    canceller.start()
    canceller.join()
    with pytest.raises(PipelineCancelled):
        deadline.check()
