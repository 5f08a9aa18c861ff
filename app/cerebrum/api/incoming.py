"""What comes from the client: its body, validated, and whether it still wants the answer.

Every inference route reads its body with ``parse``, waits for work the client may abandon
with ``until_disconnect`` and answers a client that left with ``client_left``: one
definition each, whatever the route.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import anyio
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from cerebrum.core.errors import SupersededError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

CLIENT_CLOSED = 499  # nginx's status for "the client closed the request": nobody reads it


async def parse(request: Request, model: type[M]) -> M:
    """The request body validated against ``model`` (ValidationError → 422 naming the field)."""
    return model.model_validate_json(await request.body())


def client_left() -> Response:
    """The answer to a client that hung up before it was ready (for the log's status)."""
    return Response(status_code=CLIENT_CLOSED)


async def until_disconnect(
    request: Request | None, work: Awaitable[T], superseded: anyio.Event | None = None
) -> T | None:
    """Await ``work``; None if the client hung up first, ``SupersededError`` if
    ``superseded`` was set first (a newer request of the same document): either way ``work``
    is cancelled. Without a ``request`` only ``superseded`` can stop it."""
    outcome: list[T] = []
    failure: list[Exception] = []
    stopped: list[bool] = []

    async def run(scope: anyio.CancelScope) -> None:
        try:
            outcome.append(await work)
        except Exception as exc:  # re-raised below, not wrapped in an ExceptionGroup
            failure.append(exc)
        finally:
            scope.cancel()

    async def watch_client(req: Request, scope: anyio.CancelScope) -> None:
        while (await req.receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async def watch_document(event: anyio.Event, scope: anyio.CancelScope) -> None:
        await event.wait()
        stopped.append(True)
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(run, group.cancel_scope)
        if request is not None:
            group.start_soon(watch_client, request, group.cancel_scope)
        if superseded is not None:
            group.start_soon(watch_document, superseded, group.cancel_scope)
    if failure:
        raise failure[0]
    if outcome:
        return outcome[0]
    if stopped:
        raise SupersededError()
    return None
