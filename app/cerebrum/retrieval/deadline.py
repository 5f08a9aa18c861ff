"""Deadline: how long build_prompt may spend on a request's context, and a way to stop it.

The pipeline checks its deadline between stages and every CHECK_EVERY items inside the
loops over snippets and chunks. What happens when it is reached:

- past the time budget (``CEREBRUM_PIPELINE_TIMEOUT``), the context is left out: the prompt
  is assembled from the request's own text alone (prompt, suffix, history), and the plan says
  ``context_skipped``; the request is still served;
- cancelled (the client left), `PipelineCancelled` is raised and nothing is assembled.

Checks are cheap (a clock read), so a deadline can be consulted often; the clock is
injectable so that tests can move time by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CHECK_EVERY = 64  # loop iterations between two checks inside a stage


class PipelineCancelled(Exception):  # noqa: N818 (it is not an error: the client left)
    """The request's pipeline work was cancelled (its client went away)."""


class OutOfTime(Exception):  # noqa: N818 (a signal inside the pipeline, caught by build_prompt)
    """The pipeline's time budget is spent; build_prompt leaves the context out."""


class Deadline:
    """A time budget in seconds (None: no limit) and a cancellation flag, thread-safe."""

    def __init__(
        self, seconds: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._ends = None if seconds is None else clock() + seconds
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop the pipeline at its next check (from any thread)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise PipelineCancelled if cancelled, OutOfTime if the budget is spent."""
        if self._cancelled.is_set():
            raise PipelineCancelled("the request was cancelled")
        if self._ends is not None and self._clock() >= self._ends:
            raise OutOfTime("the pipeline's time budget is spent")
