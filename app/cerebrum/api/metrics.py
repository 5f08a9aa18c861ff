"""Prometheus exposition of ``api.figures`` (prometheus_client, imported lazily).

A custom collector reads the figures at scrape time, so nothing is double-counted and
requests do not touch prometheus_client at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from cerebrum.api.figures import FIGURES, TIMINGS, Figure
from cerebrum.api.services import Services

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry


class _Collector:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import HistogramMetricFamily

        for figure in FIGURES:
            if figure.metric is not None:
                yield _family(figure, figure.read(self.svc))
        for timing in TIMINGS:
            if timing.metric is not None and timing.histogram is not None:
                histogram = timing.histogram(self.svc)
                family = HistogramMetricFamily(timing.metric, timing.help)
                family.add_metric([], histogram.cumulative(), histogram.total)
                yield family


def _family(figure: Figure, reading: object) -> Metric:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    assert figure.metric is not None
    kind = CounterMetricFamily if figure.kind == "counter" else GaugeMetricFamily
    if figure.label is None:
        return kind(figure.metric, figure.help, value=_number(figure, reading))
    family = kind(figure.metric, figure.help, labels=[figure.label])
    assert isinstance(reading, Mapping)
    for label, value in reading.items():
        family.add_metric([label], _number(figure, value))
    return family


def _number(figure: Figure, value: object) -> float:
    number = figure.as_number(value) if figure.as_number is not None else value
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise TypeError(f"figure {figure.path} exported as {figure.metric} is not a number")
    return number


def registry_for(svc: Services) -> CollectorRegistry:
    """A registry with the orchestrator's figures plus process_* (RSS, CPU, open files)."""
    from prometheus_client import CollectorRegistry, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(svc))
    ProcessCollector(registry=registry)
    return registry
