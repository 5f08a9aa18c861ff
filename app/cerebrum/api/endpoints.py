"""An endpoint, declared once: its route, how it is protected, and how it is documented.

The table of endpoints is ``cerebrum.api.routes.ENDPOINTS``. From it, and from nothing else,
come the Starlette routes (a shed endpoint's route carries the load-shedding middleware:
it runs only for a request whose path and method match, after the body was read by the
app's middleware), the paths served without a client key or to admin keys only, and the
OpenAPI document (``routes/schema.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]
Shape = type[BaseModel] | type[Mapping[str, Any]]  # a model, or a TypedDict (api/schemas.py)


@dataclass(frozen=True)
class Answer:
    """A status whose body is not an ``ErrorResponse``: documented with its own model."""

    status: int
    description: str
    model: Shape


@dataclass(frozen=True)
class Endpoint:
    """One method on one path: its handler, its protection, its OpenAPI description."""

    method: Literal["GET", "POST"]
    path: str
    handler: Handler
    summary: str
    response: Shape | None = None  # the JSON answer (a RootModel for an array)
    request: type[BaseModel] | None = None  # the JSON body
    # text/event-stream (always, or when "stream": true): what an event's data can be
    events: tuple[Shape, ...] = ()
    done_marker: bool = False  # the stream ends with data: [DONE]
    text_response: str | None = None  # a text answer of this media type instead of JSON
    errors: tuple[int, ...] = ()  # statuses answered with an ErrorResponse
    answers: tuple[Answer, ...] = ()  # other statuses, with their own body
    public: bool = False  # served without a client key
    admin: bool = False  # served to admin keys only (and to loopback in keyless mode)
    shed: bool = False  # holds a load-shedding place while it is answered


def starlette_routes(endpoints: Iterable[Endpoint], shed: Sequence[Middleware]) -> list[Route]:
    """One route per endpoint, in table order; ``shed`` wraps the shed endpoints' handlers."""
    return [
        Route(
            endpoint.path,
            endpoint.handler,
            methods=[endpoint.method],
            middleware=shed if endpoint.shed else None,
        )
        for endpoint in endpoints
    ]


def public_paths(endpoints: Iterable[Endpoint]) -> tuple[str, ...]:
    """The paths served without a client key."""
    return tuple(endpoint.path for endpoint in endpoints if endpoint.public)


def admin_paths(endpoints: Iterable[Endpoint]) -> tuple[str, ...]:
    """The paths served to admin keys only."""
    return tuple(endpoint.path for endpoint in endpoints if endpoint.admin)
