"""The application: settings → services → routes (from the table of endpoints) → middleware.

The app's middleware sees every request (log context with its request id, client key, body read
within its size and time limits); a shed route's own middleware then takes a load-shedding
place, so a slow body never holds one.
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from cerebrum.api import errors
from cerebrum.api.endpoints import public_paths, starlette_routes
from cerebrum.api.middleware.auth import AuthMiddleware
from cerebrum.api.middleware.body_limit import BodyLimitMiddleware
from cerebrum.api.middleware.load_shed import LoadShedMiddleware
from cerebrum.api.middleware.log_context import LogContextMiddleware
from cerebrum.api.routes import ENDPOINTS
from cerebrum.api.services import Services
from cerebrum.core.errors import CerebrumError
from cerebrum.retrieval import PromptTooLarge
from cerebrum.settings import Settings, load_settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the orchestrator; ``transport`` replaces the backends' network in tests."""
    settings = settings if settings is not None else load_settings()
    svc = Services.build(settings, transport)

    shed = [
        Middleware(LoadShedMiddleware, limiter=svc.limiter, on_request=svc.stats.record_received)
    ]
    middleware = [
        Middleware(LogContextMiddleware),
        Middleware(
            AuthMiddleware,
            keys=[key.get_secret_value() for key in settings.client_keys],
            open_paths=public_paths(ENDPOINTS),
        ),
        Middleware(
            BodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            timeout=settings.body_timeout,  # read before a shed route takes a place
        ),
    ]
    handlers = {
        HTTPException: errors.handle,
        CerebrumError: errors.handle,
        PromptTooLarge: errors.handle,
        ValidationError: errors.handle,
    }

    app = Starlette(
        routes=starlette_routes(ENDPOINTS, shed),
        middleware=middleware,
        exception_handlers=handlers,
        lifespan=svc.lifespan,
    )
    app.state.services = svc
    return app
