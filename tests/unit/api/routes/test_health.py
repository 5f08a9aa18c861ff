"""api/routes/health.py: the orchestrator's liveness, and the backends seen from it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_health_answers_without_asking_a_backend(client, fake_llama):
    body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["usage"]["status"] == "off"  # no CEREBRUM_USAGE_DB in the unit settings
    assert fake_llama.requests == []


async def test_vps_health_names_each_backend_and_its_circuit_without_its_url(client):
    body = (await client.get("/v1/vps/health")).json()
    assert body["status"] == "ok"
    [backend] = body["backends"]
    assert (backend["backend"], backend["status"], backend["circuit"]) == (
        "backend 1", "ok", "closed",
    )  # fmt: skip
    assert "vps.test" not in str(body)


async def test_vps_health_is_degraded_while_the_backend_loads(client, fake_llama):
    fake_llama.health_status = 503
    body = (await client.get("/v1/vps/health")).json()
    assert body["status"] == "degraded"
    assert body["backends"][0]["status"] == "loading"
