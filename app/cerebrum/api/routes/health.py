"""GET /health (the orchestrator itself) and GET /v1/vps/health (the backends, seen from here)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from cerebrum import __version__
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import BackendHealthInfo, HealthResponse, UsageHealth, VpsHealthResponse
from cerebrum.api.services import Services, services
from cerebrum.core.breaker import State


async def health(request: Request) -> Response:
    """Liveness: answers without asking any backend; says whether usage is being written."""
    svc = services(request)
    body = HealthResponse(
        status="ok", version=__version__, uptime=round(svc.stats.uptime, 3), usage=usage_health(svc)
    )
    return JSONResponse(body.model_dump(exclude_none=True))


def usage_health(svc: Services) -> UsageHealth:
    """Whether usage is recorded, and if not written, why."""
    store = svc.usage
    if store is None:
        return UsageHealth(status="off")
    state = "ok" if store.problem is None else "failing"
    return UsageHealth(status=state, detail=store.problem, dropped=store.dropped)  # type: ignore[arg-type]


async def vps_health(request: Request) -> Response:
    """Each backend's /health (reachability, latency, loading) and its circuit state.

    A backend whose circuit waits for its half-open probe and that answers ok here (its
    /health, and its /models with the key) has its circuit closed: documents stay on their
    own backends and slots, so a backend no document calls home would otherwise stay open
    until a failover happened to probe it."""
    svc = services(request)
    backends = svc.router.backends
    probes = await asyncio.gather(*(backend.client.health() for backend in backends))
    for backend, probe in zip(backends, probes, strict=True):
        half_open = backend.breaker.state is State.HALF_OPEN
        if probe.status == "ok" and half_open and backend.breaker.acquire():
            backend.breaker.record_success()
    infos = [
        BackendHealthInfo(
            backend=probe.name,
            reachable=probe.reachable,
            status=probe.status,
            latency_ms=probe.latency_ms,
            circuit=backend.breaker.state.value,
            in_flight=backend.in_flight,
            detail=probe.detail,
        )
        for backend, probe in zip(backends, probes, strict=True)
    ]
    ok = any(info.status == "ok" for info in infos)
    body = VpsHealthResponse(status="ok" if ok else "degraded", backends=infos)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
