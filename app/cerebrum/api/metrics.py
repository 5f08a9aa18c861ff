"""Prometheus exposition of the same figures as /v1/stats (prometheus_client, imported lazily).

A custom collector reads ``Stats``, the limiter and the circuit breakers at scrape time, so
nothing is double-counted and requests do not touch prometheus_client at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cerebrum.api.services import Services
from cerebrum.core.breaker import State

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

CIRCUIT_VALUE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class _Collector:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        svc, stats = self.svc, self.svc.stats
        yield GaugeMetricFamily(
            "cerebrum_uptime_seconds", "Seconds since the orchestrator started.", stats.uptime
        )
        yield CounterMetricFamily(
            "cerebrum_requests", "Inference requests received.", stats.received_total
        )
        yield CounterMetricFamily(
            "cerebrum_requests_shed", "Inference requests refused by load shedding.",
            svc.limiter.shed_total,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "cerebrum_requests_in_flight", "Inference requests being served.", svc.limiter.in_flight
        )
        yield GaugeMetricFamily(
            "cerebrum_requests_queued",
            "Inference requests waiting for a place.",
            svc.limiter.queued,
        )
        generations = CounterMetricFamily(
            "cerebrum_generations", "Generations started, by model alias.", labels=["model"]
        )
        failures = CounterMetricFamily(
            "cerebrum_generation_failures", "Generations that failed, by model alias.",
            labels=["model"],
        )  # fmt: skip
        tokens = CounterMetricFamily(
            "cerebrum_tokens_generated", "Tokens generated, by model alias.", labels=["model"]
        )
        for model, counts in sorted(stats.models.items()):
            generations.add_metric([model], counts.requests)
            failures.add_metric([model], counts.failed)
            tokens.add_metric([model], counts.tokens)
        yield generations
        yield failures
        yield tokens
        errors = CounterMetricFamily(
            "cerebrum_generation_errors", "Failed generations by error type.", labels=["type"]
        )
        for kind, count in sorted(stats.errors.items()):
            errors.add_metric([kind], count)
        yield errors
        yield CounterMetricFamily(
            "cerebrum_prompt_tokens", "Prompt tokens the backends reported.",
            stats.prompt_tokens_total,
        )  # fmt: skip
        yield CounterMetricFamily(
            "cerebrum_prompt_tokens_cached",
            "Prompt tokens the backends took from their KV cache instead of processing them.",
            stats.cached_tokens_total,
        )
        yield CounterMetricFamily(
            "cerebrum_requests_superseded",
            "Requests stopped for a newer one of their document (latest wins; no failure).",
            svc.documents.superseded_total,
        )
        placement = svc.router.placement
        yield GaugeMetricFamily(
            "cerebrum_documents", "Documents (a file in an editor) remembered.", len(svc.documents)
        )
        yield GaugeMetricFamily(
            "cerebrum_slots_held", "Backend slots holding a document's prompt.", placement.held
        )
        yield CounterMetricFamily(
            "cerebrum_slot_evictions",
            "Slots taken from the least recently typed document for another one.",
            placement.evictions,
        )
        yield CounterMetricFamily(
            "cerebrum_generations_cancelled", "Generations abandoned by their client.",
            stats.cancelled_total,
        )  # fmt: skip
        for name, help_text, histogram in (
            ("cerebrum_time_to_first_token_seconds", "Time to first token.", stats.ttft_histogram),
            ("cerebrum_request_duration_seconds", "Generation wall time.", stats.latency_histogram),
            (
                "cerebrum_prompt_tokens_reprocessed",
                "Prompt tokens a backend processed (not from its KV cache), per generation.",
                stats.reprocessed_histogram,
            ),
        ):
            family = HistogramMetricFamily(name, help_text)
            family.add_metric([], histogram.cumulative(), histogram.total)
            yield family
        circuit = GaugeMetricFamily(
            "cerebrum_circuit_state", "Circuit per backend: 0 closed, 1 half-open, 2 open.",
            labels=["backend"],
        )  # fmt: skip
        in_flight = GaugeMetricFamily(
            "cerebrum_backend_in_flight", "Streams open per backend.", labels=["backend"]
        )
        for backend in svc.router.backends:
            circuit.add_metric([backend.url], CIRCUIT_VALUE[backend.breaker.state])
            in_flight.add_metric([backend.url], backend.in_flight)
        yield circuit
        yield in_flight


def registry_for(svc: Services) -> CollectorRegistry:
    """A registry with the orchestrator's figures plus process_* (RSS, CPU, open files)."""
    from prometheus_client import CollectorRegistry, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(svc))
    ProcessCollector(registry=registry)
    return registry
