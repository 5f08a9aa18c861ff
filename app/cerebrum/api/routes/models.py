"""GET /v1/models: the configured aliases, OpenAI list shape plus what the backends report."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import ModelInfo, ModelList
from cerebrum.api.services import services
from cerebrum.core.router import Backend


async def _loaded(backend: Backend) -> dict[str, str] | None:
    try:
        return await backend.client.models()
    except Exception:  # unreachable or refusing: "unknown" for its models, never a failure here
        return None


def _status(report: dict[str, str] | None, model: str) -> str | None:
    """What one backend says about a model: loaded, unloaded, loading, absent; None: unknown."""
    return None if report is None else report.get(model, "absent")


async def models(request: Request) -> Response:
    svc = services(request)
    backends = svc.router.backends
    reports = dict(
        zip(
            (backend.url for backend in backends),
            await asyncio.gather(*(_loaded(backend) for backend in backends)),
            strict=True,
        )
    )
    names = {backend.url: backend.name for backend in backends}  # clients never see a URL
    data = [
        ModelInfo(
            id=spec.alias,
            backend_model=spec.model,
            context_size=spec.profile.context_size,
            format=spec.profile.format,
            default=spec.alias == svc.registry.default,
            loaded={names[url]: _status(reports[url], spec.model) for url in spec.backends},
        )
        for spec in svc.registry
    ]
    body = ModelList(data=data, default=svc.registry.default)
    return JSONResponse(body.model_dump())
