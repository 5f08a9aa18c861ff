"""The orchestrator's figures, declared once: ``/v1/stats`` and ``/metrics`` derive from them.

``FIGURES`` lists every count and level: where ``/v1/stats`` shows it (a dotted path into
``StatsResponse``; ``{}`` stands for the label of a labelled figure, e.g. a model's alias), its
Prometheus name, type and help, and how to read it from the app's services. ``TIMINGS`` lists
the measured durations, shown as percentiles in ``/v1/stats`` and as histograms in
``/metrics``. A figure added here appears in both, typed by the schema on the JSON side.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cerebrum.api.services import Services
from cerebrum.core.breaker import State
from cerebrum.core.stats import Histogram, Window, process_rss_bytes

Number = int | float | None
Reading = Number | str | Mapping[str, Any]

CIRCUIT_VALUE = {State.CLOSED.value: 0, State.HALF_OPEN.value: 1, State.OPEN.value: 2}


@dataclass(frozen=True, slots=True)
class Figure:
    path: str  # where /v1/stats shows it; "{}" is the label's value for a labelled figure
    metric: str | None  # the Prometheus family; None: /v1/stats alone (a ratio, a setting)
    kind: Literal["counter", "gauge"]
    help: str
    read: Callable[[Services], Reading]  # a labelled figure reads {label value: reading}
    label: str | None = None  # the Prometheus label of a labelled figure
    as_number: Callable[[Any], Number] | None = None  # for /metrics, when the JSON is text


def _models(svc: Services, field: str) -> dict[str, int]:
    return {alias: getattr(counts, field) for alias, counts in sorted(svc.stats.models.items())}


def _circuits(svc: Services, read: Callable[[Any], Reading]) -> dict[str, Reading]:
    return {backend.name: read(backend) for backend in svc.router.backends}


def _rss_mb(svc: Services) -> float | None:
    rss = process_rss_bytes()
    return None if rss is None else round(rss / 1_048_576, 1)


FIGURES: tuple[Figure, ...] = (
    Figure("uptime", "cerebrum_uptime_seconds", "gauge", "Seconds since the orchestrator started.",
           lambda svc: round(svc.stats.uptime, 3)),
    Figure("requests.total", "cerebrum_requests", "counter", "Inference requests received.",
           lambda svc: svc.stats.received_total),
    Figure("requests.in_flight", "cerebrum_requests_in_flight", "gauge",
           "Inference requests being served.", lambda svc: svc.limiter.in_flight),
    Figure("requests.queued", "cerebrum_requests_queued", "gauge",
           "Inference requests waiting for a place.", lambda svc: svc.limiter.queued),
    Figure("requests.shed", "cerebrum_requests_shed", "counter",
           "Inference requests refused by load shedding.", lambda svc: svc.limiter.shed_total),
    Figure("requests.generations", None, "counter", "Generations started on a backend.",
           lambda svc: svc.stats.requests_total),
    Figure("requests.failed", None, "counter", "Generations that failed.",
           lambda svc: svc.stats.failed_total),
    Figure("requests.cancelled", "cerebrum_generations_cancelled", "counter",
           "Generations abandoned by their client.", lambda svc: svc.stats.cancelled_total),
    Figure("requests.errors.{}", "cerebrum_generation_errors", "counter",
           "Failed generations by error type.",
           lambda svc: dict(sorted(svc.stats.errors.items())), label="type"),
    Figure("requests.limits.max_in_flight", None, "gauge", "CEREBRUM_MAX_IN_FLIGHT.",
           lambda svc: svc.limiter.max_in_flight),
    Figure("requests.limits.max_queue", None, "gauge", "CEREBRUM_MAX_QUEUE.",
           lambda svc: svc.limiter.max_queue),
    Figure("models.{}.requests", "cerebrum_generations", "counter",
           "Generations started, by model alias.", lambda svc: _models(svc, "requests"),
           label="model"),
    Figure("models.{}.failed", "cerebrum_generation_failures", "counter",
           "Generations that failed, by model alias.", lambda svc: _models(svc, "failed"),
           label="model"),
    Figure("models.{}.tokens", "cerebrum_tokens_generated", "counter",
           "Tokens generated, by model alias.", lambda svc: _models(svc, "tokens"),
           label="model"),
    Figure("tokens.total", None, "counter", "Tokens generated.",
           lambda svc: svc.stats.tokens_total),
    Figure("prompt_cache.prompt_tokens", "cerebrum_prompt_tokens", "counter",
           "Prompt tokens the backends reported.", lambda svc: svc.stats.prompt_tokens_total),
    Figure("prompt_cache.cached_tokens", "cerebrum_prompt_tokens_cached", "counter",
           "Prompt tokens the backends took from their KV cache instead of processing them.",
           lambda svc: svc.stats.cached_tokens_total),
    Figure("prompt_cache.processed_tokens", None, "counter",
           "Prompt tokens the backends processed.",
           lambda svc: svc.stats.prompt_tokens_total - svc.stats.cached_tokens_total),
    Figure("prompt_cache.hit_ratio", None, "gauge", "cached_tokens / prompt_tokens.",
           lambda svc: svc.stats.cache_hit_ratio),
    Figure("requests.superseded", "cerebrum_requests_superseded", "counter",
           "Requests stopped for a newer one of their document (latest wins; no failure).",
           lambda svc: svc.documents.superseded_total),
    Figure("documents.remembered", "cerebrum_documents", "gauge",
           "Documents (a file in an editor) remembered.", lambda svc: len(svc.documents)),
    Figure("documents.slots", None, "gauge",
           "Slots on all backends (CEREBRUM_BACKEND_SLOTS each).",
           lambda svc: svc.router.placement.slots * len(svc.router.backends)),
    Figure("documents.slots_held", "cerebrum_slots_held", "gauge",
           "Backend slots holding a document's prompt.",
           lambda svc: svc.router.placement.held),
    Figure("documents.evictions", "cerebrum_slot_evictions", "counter",
           "Slots taken from the least recently typed document for another one.",
           lambda svc: svc.router.placement.evictions),
    Figure("prompt_cache.token_counts", None, "gauge",
           "Texts whose exact token count is remembered.", lambda svc: len(svc.token_counts)),
    Figure("prompt_cache.tokenize_calls", "cerebrum_tokenize_calls", "counter",
           "/tokenize requests made to count prompt texts.", lambda svc: svc.token_counts.calls),
    Figure("prompt_cache.tokenize_failed", "cerebrum_tokenize_failed", "counter",
           "/tokenize requests that failed.", lambda svc: svc.token_counts.failed),
    Figure("prompt_cache.tokenize_skipped", "cerebrum_tokenize_skipped", "counter",
           "Texts left uncounted by the /tokenize bounds.",
           lambda svc: svc.token_counts.skipped),
    Figure("circuits.{}.state", "cerebrum_circuit_state", "gauge",
           "Circuit per backend: 0 closed, 1 half-open, 2 open.",
           lambda svc: _circuits(svc, lambda backend: backend.breaker.state.value),
           label="backend", as_number=CIRCUIT_VALUE.get),
    Figure("circuits.{}.failures", None, "gauge", "Consecutive failures per backend.",
           lambda svc: _circuits(svc, lambda backend: backend.breaker.failures),
           label="backend"),
    Figure("circuits.{}.opened_total", None, "counter", "Times each circuit opened.",
           lambda svc: _circuits(svc, lambda backend: backend.breaker.opened_total),
           label="backend"),
    Figure("circuits.{}.in_flight", "cerebrum_backend_in_flight", "gauge",
           "Streams open per backend.",
           lambda svc: _circuits(svc, lambda backend: backend.in_flight), label="backend"),
    Figure("process.pid", None, "gauge", "The orchestrator's process id.",
           lambda svc: os.getpid()),
    Figure("process.rss_bytes", None, "gauge", "Resident memory (process_* in /metrics).",
           lambda svc: process_rss_bytes()),
    Figure("process.rss_mb", None, "gauge", "Resident memory in MiB.", _rss_mb),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Timing:
    path: str  # where /v1/stats shows its percentiles
    metric: str | None  # its Prometheus histogram; None: percentiles alone
    help: str
    window: Callable[[Services], Window]
    histogram: Callable[[Services], Histogram] | None = None


TIMINGS: tuple[Timing, ...] = (
    Timing("latency.time_to_first_token", "cerebrum_time_to_first_token_seconds",
           "Time to first token.", lambda svc: svc.stats.ttft,
           lambda svc: svc.stats.ttft_histogram),
    Timing("latency.total", "cerebrum_request_duration_seconds", "Generation wall time.",
           lambda svc: svc.stats.latency, lambda svc: svc.stats.latency_histogram),
    Timing("tokens.per_second", None, "Tokens per second of each generation.",
           lambda svc: svc.stats.tokens_per_second),
    Timing("prompt_cache.reprocessed", "cerebrum_prompt_tokens_reprocessed",
           "Prompt tokens a backend processed (not from its KV cache), per generation.",
           lambda svc: svc.stats.reprocessed, lambda svc: svc.stats.reprocessed_histogram),
)  # fmt: skip


def stats_document(svc: Services) -> dict[str, Any]:
    """Every figure and timing at its place in /v1/stats (validated by the route's schema)."""
    document: dict[str, Any] = {}
    for figure in FIGURES:
        value = figure.read(svc)
        if figure.label is None:
            _put(document, figure.path.split("."), value)
            continue
        assert isinstance(value, Mapping), figure.path
        before, _, after = figure.path.partition(".{}")
        labelled = _node(document, before.split("."))  # there even before a first label
        for label, reading in value.items():  # a label (a backend URL) may hold dots
            _put(labelled, [label, *after.split(".")[1:]], reading)
    for timing in TIMINGS:
        _put(document, timing.path.split("."), timing.window(svc).summary())
    return document


def _node(document: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    for key in keys:
        document = document.setdefault(key, {})
    return document


def _put(document: dict[str, Any], keys: list[str], value: Any) -> None:
    _node(document, keys[:-1])[keys[-1]] = value
