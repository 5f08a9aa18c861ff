"""Usage accounting: each inference request's figures, per client key name, model and day.

A shed route's outermost middleware (``api/main.py``): it gives the request an ``Outcome``
that the generation's tracker and the load shedders fill in, and when the answer has been
sent in full it hands one ``Record`` to the usage store's queue (``core/usage.py``), which
never blocks. What a request counts as: shed (refused by its key's limit or the load
shedder), superseded (a newer request of its session stopped it), an error (an error kind,
or an error status before any generation), or a request with its tokens and time to first
token; a client that hangs up counts as a request without error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebrum.core import usage
from cerebrum.core.usage import NO_MODEL, Outcome, Record, UsageStore

CLIENT_CLOSED = 499


def record_of(client: str, outcome: Outcome, status: int | None) -> Record:
    """The usage record of a finished request."""
    record = Record(key=client, model=outcome.model or NO_MODEL)
    if outcome.shed:
        record.shed = 1
        return record
    record.requests = 1
    record.prompt_tokens = outcome.prompt_tokens
    record.cached_tokens = outcome.cached_tokens
    record.completion_tokens = outcome.completion_tokens
    record.ttft = outcome.ttft
    if outcome.error == "superseded":
        record.superseded = 1
    elif outcome.error is not None:
        record.errors = 1
    elif outcome.model is None and (status is None or status >= 400) and not outcome.cancelled:
        record.errors = int(status != CLIENT_CLOSED)
    return record


class UsageMiddleware:
    def __init__(self, app: ASGIApp, store: UsageStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with usage.tracking(Outcome()) as outcome:
            try:
                await self.app(scope, receive, send_with_status)
            except HTTPException as exc:  # answered by the app's handler, outside this one
                status = exc.status_code
                raise
            finally:
                client = str(scope.get("state", {}).get("client", NO_MODEL))
                self.store.record(record_of(client, outcome, status))
