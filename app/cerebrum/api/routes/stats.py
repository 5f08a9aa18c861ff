"""GET /v1/stats (JSON) and GET /metrics (Prometheus text), both from ``api.figures``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api.figures import stats_document
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import StatsResponse
from cerebrum.api.services import services


async def stats(request: Request) -> Response:
    body = StatsResponse.model_validate(stats_document(services(request)))
    return JSONResponse(body.model_dump())


async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from cerebrum.api.metrics import registry_for

    state = request.app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = state.metrics_registry = registry_for(services(request))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
