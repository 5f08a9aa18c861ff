"""Limits per client key: requests per minute and requests at once, each key on its own.

Requests per minute are a token bucket per key (it holds a minute's requests and refills
continuously, so a key may burst its whole minute and then gets one request per 60/N s);
requests at once are a count per key. A refusal names the limit and when to retry; a key's
state is its own, so one key at its limit never slows another. Memory: one bucket and one
count per configured key that has a limit (keys are a configured, bounded set).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cerebrum.core.clients import Client


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str  # the setting's name, e.g. requests_per_minute
    message: str
    retry_after: int  # seconds


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refilled_at: float


class KeyLimits:
    def __init__(
        self, busy_retry_after: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.busy_retry_after = busy_retry_after  # Retry-After when the key's places are taken
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._in_flight: dict[str, int] = {}

    def in_flight(self, client: Client) -> int:
        return self._in_flight.get(client.name, 0)

    def admit(self, client: Client) -> Refusal | None:
        """Take one of ``client``'s places (``release`` gives it back), or say which limit
        refuses it."""
        limits = client.limits
        running = self._in_flight.get(client.name, 0)
        if limits.concurrent is not None and running >= limits.concurrent:
            return Refusal(
                "concurrent",
                f"key {client.name!r} has {running} requests in flight, its limit "
                f"(concurrent: {limits.concurrent}); retry when one has finished",
                self.busy_retry_after,
            )
        if limits.requests_per_minute is not None:
            refusal = self._take(client.name, limits.requests_per_minute)
            if refusal is not None:
                return refusal
        if limits.concurrent is not None:
            self._in_flight[client.name] = running + 1
        return None

    def release(self, client: Client) -> None:
        if client.limits.concurrent is not None:
            self._in_flight[client.name] -= 1

    def _take(self, name: str, per_minute: int) -> Refusal | None:
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(float(per_minute), now)
        rate = per_minute / 60.0
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.refilled_at) * rate)
        bucket.refilled_at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        wait = max(1, math.ceil((1.0 - bucket.tokens) / rate))
        return Refusal(
            "requests_per_minute",
            f"key {name!r} reached its limit of {per_minute} requests per minute "
            f"(requests_per_minute); retry in {wait} s",
            wait,
        )
