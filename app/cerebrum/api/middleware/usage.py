"""Usage accounting: each inference request's figures, per client key name, model and day.

A shed route's outermost middleware (``api/main.py``): it gives the request an ``Outcome``
that the generation's tracker and the load shedders fill in, and when the answer has been
sent in full it adds one ``Record`` to the counts since start (/metrics) and hands it to the
usage store's queue (``core/usage.py``), which never blocks. What a request counts as: shed
(refused by its key's limit or the load shedder), superseded (a newer request of its session
stopped it), an error (an error kind, or an error status before any generation), or a
request with its tokens and time to first token; a client that hangs up counts as a request
without error.

A successful /infill of an editor session also tells whether the session's earlier
suggestions were accepted (``core/acceptance.py``): its text before the cursor is
``input_prefix`` + ``prompt``, as llama.vim and llama.vscode send them. Warm-ups
(``n_predict: 0``) and several completions at once (``n_cmpl``) are left out.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebrum.core import usage
from cerebrum.core.acceptance import Acceptance
from cerebrum.core.errors import CerebrumError, SupersededError
from cerebrum.core.usage import NO_MODEL, KeyTotals, Outcome, Record, UsageStore

CLIENT_CLOSED = 499
JUDGED_PATHS = frozenset({"/infill"})  # bodies whose text before the cursor is known
_COUNTED = {"whole": "accepted_whole", "line": "accepted_line", "ignored": "ignored"}


def record_of(
    client: str, outcome: Outcome, status: int | None, failure: str | None = None
) -> Record:
    """The usage record of a finished request; ``failure``: the error kind its answer
    carried, when no generation said (superseded while its prompt was built)."""
    record = Record(key=client, model=outcome.model or NO_MODEL)
    if outcome.shed:
        record.shed = 1
        return record
    record.requests = 1
    record.prompt_tokens = outcome.prompt_tokens
    record.cached_tokens = outcome.cached_tokens
    record.completion_tokens = outcome.completion_tokens
    record.ttft = outcome.ttft
    if (outcome.error or failure) == SupersededError.kind:
        record.superseded = 1
    elif outcome.error is not None:
        record.errors = 1
    elif outcome.model is None and (status is None or status >= 400) and not outcome.cancelled:
        record.errors = int(status != CLIENT_CLOSED)
    return record


def error_type(body: bytes) -> str | None:
    """The ``type`` of an error answer's body (``{"error": {"type": ...}}``), if it is one."""
    if len(body) > 4096:
        return None
    try:
        found: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = found.get("error") if isinstance(found, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else None


def before_cursor(body: bytes) -> str | None:
    """The text before the cursor of an /infill body (None: not judged: a warm-up, several
    completions, or not an object)."""
    try:
        fields: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(fields, dict) or fields.get("n_predict") == 0:
        return None
    if fields.get("n_cmpl", 1) != 1:
        return None
    prefix, prompt = fields.get("input_prefix", ""), fields.get("prompt", "")
    if not isinstance(prefix, str) or not isinstance(prompt, str):
        return None
    return prefix + prompt


class UsageMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        store: UsageStore | None,
        totals: KeyTotals,
        acceptance: Acceptance,
    ) -> None:
        self.app = app
        self.store = store
        self.totals = totals
        self.acceptance = acceptance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status: int | None = None
        body: bytes | None = None
        failure: str | None = None  # what an exception the app's handlers answer was

        async def send_with_status(message: Message) -> None:
            nonlocal status, failure
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif status is not None and status >= 400 and failure is None:
                failure = error_type(message.get("body", b""))
            await send(message)

        async def receive_body() -> Message:
            nonlocal body
            message = await receive()
            if body is None and message["type"] == "http.request":
                body = message.get("body", b"")  # the whole body (read by BodyLimitMiddleware)
            return message

        with usage.tracking(Outcome()) as outcome:
            try:
                await self.app(scope, receive_body, send_with_status)
            except HTTPException as exc:  # answered by the app's handler, outside this one
                status = exc.status_code
                raise
            except CerebrumError as exc:
                failure = exc.kind
                raise
            except ValidationError:
                failure = "validation_error"
                raise
            finally:
                client = str(scope.get("state", {}).get("client", NO_MODEL))
                records = [record_of(client, outcome, status, failure)]
                if body is not None and scope["path"] in JUDGED_PATHS:
                    records += self._judge(records[0], outcome, status, body)
                error = outcome.error or failure or (f"HTTP {status}" if status else "no answer")
                for record in records:
                    self.totals.add(record, error)
                    if self.store is not None:
                        self.store.record(record)

    def _judge(
        self, record: Record, outcome: Outcome, status: int | None, body: bytes
    ) -> list[Record]:
        """Count the verdicts on the session's earlier suggestions: in ``record`` when they
        are its key's and model's, else in records of their own."""
        if outcome.session is None or outcome.error or outcome.cancelled or status != 200:
            return []
        before = before_cursor(body)
        if before is None:
            return []
        text = "".join(outcome.text)
        verdicts = self.acceptance.observe(outcome.session, before, text, record.key, record.model)
        others: list[Record] = []
        for shown, verdict in verdicts:
            into = record
            if (shown.key, shown.model) != (record.key, record.model):
                into = Record(key=shown.key, model=shown.model)
                others.append(into)
            into.shown += 1
            setattr(into, _COUNTED[verdict], getattr(into, _COUNTED[verdict]) + 1)
        return others
