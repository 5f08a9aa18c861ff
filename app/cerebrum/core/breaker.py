"""Circuit breaker for one backend: closed → open after N failures → half-open after a cool-down.

Closed: requests pass; consecutive failures are counted and ``failures`` of them open the
circuit. Open: requests are refused until ``cooldown`` seconds have passed. Half-open: one
probe request passes; its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened_total = 0
        self.last_failure: str | None = None  # the kind of the last failure, e.g. backend_timeout

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.cooldown:
            return State.HALF_OPEN
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def available(self) -> bool:
        """Whether a request could pass now (does not take the half-open probe)."""
        state = self.state
        return state is State.CLOSED or (state is State.HALF_OPEN and not self._probing)

    def acquire(self) -> bool:
        """Let one request through if the circuit allows it (takes the probe when half-open)."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self._probing:
            self._state = State.HALF_OPEN
            self._probing = True
            return True
        return False

    def release(self) -> None:
        """The request ended without a verdict (cancelled by its client): free the probe."""
        self._probing = False

    def record_success(self) -> None:
        self._state = State.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self, kind: str | None = None) -> None:
        """Count a failure; ``kind`` (an error type, not a message) is kept as ``last_failure``."""
        self.last_failure = kind
        self._probing = False
        self._failures += 1
        if self._state is State.OPEN:
            return  # a request admitted earlier failed late: keep the running cool-down
        if self._state is State.HALF_OPEN or self._failures >= self.threshold:
            self.opened_total += 1
            self._state = State.OPEN
            self._opened_at = self._clock()

    def retry_after(self) -> int:
        """Whole seconds until a probe may pass (at least 1)."""
        if self.state is not State.OPEN:
            return 1
        remaining = self.cooldown - (self._clock() - self._opened_at)
        return max(1, math.ceil(remaining))
