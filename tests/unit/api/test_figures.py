"""api/figures.py: /v1/stats and /metrics show the same figures, from one table."""

from __future__ import annotations

import re

import pytest
from cerebrum.api.figures import FIGURES, TIMINGS

pytestmark = pytest.mark.anyio


def metric_lines(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def at(document: dict, path: str, label: str | None = None):
    keys = path.split(".")
    node = document
    for key in keys:
        node = node[label] if key == "{}" else node[key]
    return node


async def test_every_exported_figure_has_the_same_value_in_stats_and_metrics(client):
    await client.post("/v1/complete", json={"prompt": "def f", "max_tokens": 2})
    stats = (await client.get("/v1/stats")).json()
    metrics = metric_lines((await client.get("/metrics")).text)
    compared = 0
    for figure in FIGURES:
        if figure.metric is None or figure.path == "uptime":
            continue
        suffix = "_total" if figure.kind == "counter" else ""
        if figure.label is None:
            shown = at(stats, figure.path)
            assert metrics[figure.metric + suffix] == shown, figure.path
            compared += 1
            continue
        labelled = at(stats, figure.path.partition(".{}")[0])
        for label in labelled:
            shown = at(stats, figure.path, label)
            number = figure.as_number(shown) if figure.as_number else shown
            key = f'{figure.metric}{suffix}{{{figure.label}="{label}"}}'
            assert metrics[key] == number, key
            compared += 1
    assert compared >= 14  # the labelled ones had a label to compare (a model, a backend)


async def test_every_timing_is_percentiles_in_stats_and_a_histogram_in_metrics(client):
    await client.post("/v1/complete", json={"prompt": "def f", "max_tokens": 2})
    stats = (await client.get("/v1/stats")).json()
    metrics = metric_lines((await client.get("/metrics")).text)
    for timing in TIMINGS:
        assert at(stats, timing.path)["count"] == 1, timing.path
        if timing.metric is not None:
            assert metrics[timing.metric + "_count"] == 1, timing.metric


def test_metric_names_are_unique_and_prometheus_shaped():
    names = [f.metric for f in FIGURES if f.metric] + [t.metric for t in TIMINGS if t.metric]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"cerebrum_[a-z_]+", name) for name in names)


def test_stats_paths_are_unique():
    paths = [f.path for f in FIGURES] + [t.path for t in TIMINGS]
    assert len(paths) == len(set(paths))
