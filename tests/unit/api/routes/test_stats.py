"""api/routes/stats.py: /v1/stats in its schema, /metrics as Prometheus text (both from
api/figures.py: tests/unit/api/test_figures.py holds them equal)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_stats_counts_a_completion_and_its_tokens(client):
    await client.post("/v1/complete", json={"prompt": "def f", "max_tokens": 2})
    body = (await client.get("/v1/stats")).json()
    assert body["requests"]["generations"] == 1
    assert body["models"]["m1"] == {"requests": 1, "failed": 0, "tokens": 2}
    assert body["latency"]["time_to_first_token"]["count"] == 1
    assert set(body["circuits"]) == {"backend 1"}


async def test_metrics_is_prometheus_text(client):
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "cerebrum_requests_total 0.0" in response.text
    assert "process_resident_memory_bytes" in response.text
