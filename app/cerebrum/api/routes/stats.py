"""GET /v1/stats (JSON) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import (
    Circuit,
    DocumentFigures,
    Latency,
    Limits,
    ModelUsage,
    Percentiles,
    ProcessInfo,
    PromptCache,
    RequestCounts,
    StatsResponse,
    TokenFigures,
)
from cerebrum.api.services import services
from cerebrum.core.stats import Window, process_rss_bytes


async def stats(request: Request) -> Response:
    svc = services(request)
    figures, limiter, placement = svc.stats, svc.limiter, svc.router.placement
    rss = process_rss_bytes()
    body = StatsResponse(
        uptime=round(figures.uptime, 3),
        requests=RequestCounts(
            total=figures.received_total,
            in_flight=limiter.in_flight,
            queued=limiter.queued,
            shed=limiter.shed_total,
            generations=figures.requests_total,
            failed=figures.failed_total,
            cancelled=figures.cancelled_total,
            superseded=svc.documents.superseded_total,
            errors=dict(sorted(figures.errors.items())),
            limits=Limits(max_in_flight=limiter.max_in_flight, max_queue=limiter.max_queue),
        ),
        models={
            alias: ModelUsage(requests=counts.requests, failed=counts.failed, tokens=counts.tokens)
            for alias, counts in sorted(figures.models.items())
        },
        latency=Latency(
            time_to_first_token=_percentiles(figures.ttft),
            total=_percentiles(figures.latency),
        ),
        tokens=TokenFigures(
            total=figures.tokens_total, per_second=_percentiles(figures.tokens_per_second)
        ),
        prompt_cache=PromptCache(
            prompt_tokens=figures.prompt_tokens_total,
            cached_tokens=figures.cached_tokens_total,
            processed_tokens=figures.prompt_tokens_total - figures.cached_tokens_total,
            hit_ratio=figures.cache_hit_ratio,
            reprocessed_per_generation=_percentiles(figures.reprocessed),
            token_counts=len(svc.token_counts),
        ),
        documents=DocumentFigures(
            remembered=len(svc.documents),
            slots=placement.slots * len(svc.router.backends),
            slots_held=placement.held,
            evictions=placement.evictions,
        ),
        circuits={
            backend.url: Circuit(
                state=backend.breaker.state.value,
                failures=backend.breaker.failures,
                opened_total=backend.breaker.opened_total,
                in_flight=backend.in_flight,
            )
            for backend in svc.router.backends
        },
        process=ProcessInfo(
            pid=os.getpid(),
            rss_bytes=rss,
            rss_mb=None if rss is None else round(rss / 1_048_576, 1),
        ),
    )
    return JSONResponse(body.model_dump())


def _percentiles(window: Window) -> Percentiles:
    return Percentiles.model_validate(window.summary())


async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from cerebrum.api.metrics import registry_for

    state = request.app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = state.metrics_registry = registry_for(services(request))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
