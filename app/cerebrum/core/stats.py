"""Counters and latency figures for /v1/stats and /metrics, kept in plain Python.

Percentiles come from a sliding window of the most recent requests; cumulative histogram
buckets (for Prometheus) cover the whole uptime. ``prometheus_client`` is only imported by
the /metrics route, so a process that is never scraped does not pay for it.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field

from cerebrum.core import usage
from cerebrum.core.errors import SupersededError

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TOKEN_BUCKETS = (0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
PERCENTILES = (50, 90, 99)


class Window:
    """The last ``size`` samples, with nearest-rank percentiles."""

    def __init__(self, size: int = 1024) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._samples.append(value)

    def __len__(self) -> int:
        return len(self._samples)

    def percentile(self, q: float) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
        return ordered[rank]

    def summary(self) -> dict[str, float | None]:
        figures = {f"p{q}": _round(self.percentile(q)) for q in PERCENTILES}
        return {"count": len(self), **figures}


@dataclass(slots=True)
class Histogram:
    """Cumulative-ready bucket counts, sum and count (Prometheus histogram)."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        running, result = 0, []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            result.append((bound, running))
        return result


@dataclass(slots=True)
class ModelCounts:
    requests: int = 0
    failed: int = 0
    tokens: int = 0


class Stats:
    """Everything /v1/stats and /metrics report about generations."""

    def __init__(self, window: int = 1024) -> None:
        self.started = time.monotonic()
        self.received_total = 0
        self.requests_total = 0
        self.failed_total = 0
        self.cancelled_total = 0
        self.tokens_total = 0
        self.prompt_tokens_total = 0  # prompt tokens the backends reported
        self.cached_tokens_total = 0  # ... of which they took from their KV cache
        self.reprocessed = Window(window)  # prompt tokens processed per generation (not cached)
        self.reprocessed_histogram = Histogram(TOKEN_BUCKETS)
        self.errors: dict[str, int] = {}
        self.models: dict[str, ModelCounts] = {}
        self.ttft = Window(window)
        self.latency = Window(window)
        self.tokens_per_second = Window(window)
        self.ttft_histogram = Histogram()
        self.latency_histogram = Histogram()

    @property
    def cache_hit_ratio(self) -> float | None:
        """The share of prompt tokens the backends took from their KV cache."""
        if not self.prompt_tokens_total:
            return None
        return round(self.cached_tokens_total / self.prompt_tokens_total, 4)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started

    def begin(self, model: str, session: str | None = None) -> Tracker:
        """Count a generation request for ``model`` (of the editor session ``session``, an
        opaque key); the tracker records how it went."""
        self.requests_total += 1
        self.models.setdefault(model, ModelCounts()).requests += 1
        return Tracker(self, model, session)

    def record_received(self) -> None:
        """An inference request arrived (before shedding, validation or routing)."""
        self.received_total += 1


class Tracker:
    """One generation's timing: start, first token, tokens, end; and the same figures in the
    request's usage outcome (``core.usage.current``), when the request has one."""

    def __init__(self, stats: Stats, model: str, session: str | None = None) -> None:
        self._stats = stats
        self.model = model
        self.started = time.perf_counter()
        self.first_token_at: float | None = None
        self.tokens = 0
        self._finished = False
        self._outcome = usage.current()
        if self._outcome is not None:
            self._outcome.model = model
            self._outcome.session = session

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    def add(self, tokens: int, text: str = "") -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
            self._stats.ttft.add(self.first_token_at - self.started)
            self._stats.ttft_histogram.observe(self.first_token_at - self.started)
            if self._outcome is not None:
                self._outcome.ttft = self.first_token_at - self.started
        if self._outcome is not None:
            self._outcome.completion_tokens += tokens
            self._outcome.add_text(text)
        self.tokens += tokens
        self._stats.tokens_total += tokens
        self._stats.models[self.model].tokens += tokens

    def prompt(self, prompt_tokens: int | None, cached_tokens: int | None) -> None:
        """The backend's count of the prompt and of its part taken from the KV cache."""
        if prompt_tokens is None:
            return
        cached = min(cached_tokens or 0, prompt_tokens)
        self._stats.prompt_tokens_total += prompt_tokens
        self._stats.cached_tokens_total += cached
        self._stats.reprocessed.add(prompt_tokens - cached)
        self._stats.reprocessed_histogram.observe(prompt_tokens - cached)
        if self._outcome is not None:
            self._outcome.prompt_tokens += prompt_tokens
            self._outcome.cached_tokens += cached

    def tokens_per_second(self) -> float | None:
        if self.first_token_at is None or self.tokens < 2:
            return None
        span = time.perf_counter() - self.first_token_at
        return self.tokens / span if span > 0 else None

    def finish(
        self, error: str | None = None, cancelled: bool = False, superseded: bool = False
    ) -> None:
        """Record the outcome once: success, an error kind, a client that hung up, or a
        request of a document superseded (counted where latest wins is decided, not here:
        neither a failure nor a latency)."""
        if self._finished:
            return
        self._finished = True
        if self._outcome is not None:  # the usage database counts superseded on its own
            self._outcome.error = SupersededError.kind if superseded else error
            self._outcome.cancelled = cancelled
        stats = self._stats
        if superseded:
            return
        if cancelled:
            stats.cancelled_total += 1
            return
        if error is not None:
            stats.failed_total += 1
            stats.models[self.model].failed += 1
            stats.errors[error] = stats.errors.get(error, 0) + 1
            return
        elapsed = self.elapsed
        stats.latency.add(elapsed)
        stats.latency_histogram.observe(elapsed)
        rate = self.tokens_per_second()
        if rate is not None:
            stats.tokens_per_second.add(rate)


def process_rss_bytes() -> int | None:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
