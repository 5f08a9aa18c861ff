"""The application: settings → client → routes → middleware."""

from __future__ import annotations

import httpx
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from cerebrum.api import errors
from cerebrum.api.middleware.auth import AuthMiddleware
from cerebrum.api.middleware.body_limit import BodyLimitMiddleware
from cerebrum.api.middleware.load_shed import LoadShedMiddleware
from cerebrum.api.middleware.log_context import LogContextMiddleware
from cerebrum.api.middleware.request_id import RequestIdMiddleware
from cerebrum.api.routes import health, inference, llama, models, openai, schema, stats
from cerebrum.api.services import Services
from cerebrum.core.errors import CerebrumError
from cerebrum.retrieval import PromptTooLarge
from cerebrum.settings import Settings, load_settings

INFERENCE_PATHS = (
    "/v1/complete",
    "/v1/complete/stream",
    "/v1/completions",
    "/v1/chat/completions",
    "/infill",
    "/completion",
)
OPEN_PATHS = ("/health",)


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the orchestrator; ``transport`` replaces the backends' network in tests."""
    settings = settings if settings is not None else load_settings()
    svc = Services.build(settings, transport)

    routes = [
        *health.routes,
        *inference.routes,
        *models.routes,
        *stats.routes,
        *openai.routes,
        *llama.routes,
        *schema.routes,
    ]
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(LogContextMiddleware),
        Middleware(
            AuthMiddleware,
            keys=[key.get_secret_value() for key in settings.client_keys],
            open_paths=OPEN_PATHS,
        ),
        Middleware(
            BodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            timeout=settings.body_timeout,  # read before LoadShed takes a place
        ),
        Middleware(
            LoadShedMiddleware,
            limiter=svc.limiter,
            paths=INFERENCE_PATHS,
            on_request=svc.stats.record_received,
        ),
    ]
    handlers = {
        HTTPException: errors.handle,
        CerebrumError: errors.handle,
        PromptTooLarge: errors.handle,
        ValidationError: errors.handle,
    }

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=handlers,
        lifespan=svc.lifespan,
    )
    app.state.services = svc
    return app
