"""api/metrics.py: the Prometheus figures, and the Grafana dashboard shipped beside them
(docs/grafana/cerebrum.json) asking only for series the orchestrator exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.anyio

DASHBOARD = Path(__file__).parents[3] / "docs" / "grafana" / "cerebrum.json"


async def test_every_series_of_the_grafana_dashboard_is_exported(app_client, tmp_path):
    async with app_client(usage_db=str(tmp_path / "u.db")) as http:
        await http.post("/v1/complete", json={"prompt": "x", "max_tokens": 2})
        exported = (await http.get("/metrics")).text
    names = {line.split("{")[0].split(" ")[0] for line in exported.splitlines() if line[:1] != "#"}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    asked = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"\bcerebrum_[a-z_]+", target["expr"])
    }
    assert asked
    assert asked <= names, sorted(asked - names)
