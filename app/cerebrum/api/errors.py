"""Error answers: ``{"error": {"type", "message", "field"?}}``, with Retry-After on 503;
and what a stream that has already started says in its last event (``stream_failure``).

Messages are built from the orchestrator's own exceptions and never contain a key; any other
exception is logged with its traceback and reported as ``internal_error`` without detail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NamedTuple

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import ErrorDetail, ErrorResponse
from cerebrum.core.errors import (
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BackendRejectedError,
    BackendTimeoutError,
    BackendUnavailableError,
    CerebrumError,
    NotFimModelError,
    OverloadedError,
    SupersededError,
    UnknownModelError,
)
from cerebrum.retrieval import PromptTooLarge

log = logging.getLogger("cerebrum.errors")

INTERNAL_ERROR = "internal error; see the orchestrator's log"  # the details stay in the log

_STATUS: tuple[tuple[type[CerebrumError], int], ...] = (
    (UnknownModelError, 400),
    (NotFimModelError, 400),
    (SupersededError, 409),
    (OverloadedError, 503),
    (BackendUnavailableError, 503),
    (BackendAuthError, 502),
    (BackendRejectedError, 502),
    (BackendProtocolError, 502),
    (BackendTimeoutError, 504),
    (BackendError, 502),  # the others: a backend's 500, an answer too large
)

_HTTP_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def error_detail(kind: str, message: str, field: str | None = None) -> ErrorDetail:
    detail: ErrorDetail = {"type": kind, "message": message}
    if field is not None:
        detail["field"] = field
    return detail


def error_body(kind: str, message: str, field: str | None = None) -> ErrorResponse:
    return {"error": error_detail(kind, message, field)}


def error_response(
    status: int,
    kind: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(kind, message, field), status_code=status, headers=headers)


def status_of(exc: CerebrumError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def retry_after_of(exc: Exception) -> int | None:
    value = getattr(exc, "retry_after", None)
    return value if isinstance(value, int) else None


def response_for(exc: Exception) -> JSONResponse:
    """The answer for an exception raised while handling a request."""
    if isinstance(exc, CerebrumError):
        retry_after = retry_after_of(exc)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(status_of(exc), exc.kind, exc.message, headers=headers)
    if isinstance(exc, PromptTooLarge):
        return error_response(400, "prompt_too_large", str(exc), field="prompt")
    if isinstance(exc, ValidationError):
        return validation_response(exc)
    if isinstance(exc, HTTPException):
        kind = _HTTP_KINDS.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail), headers=exc.headers)
    return error_response(500, "internal_error", INTERNAL_ERROR)


class Failure(NamedTuple):
    """An error as a route reports it: HTTP status, ``type`` and message."""

    status: int
    kind: str
    message: str


def stream_failure(exc: Exception) -> Failure:
    """What a stream that has already started (its status sent) reports about ``exc`` in its
    last event, in the route's own shape."""
    if isinstance(exc, CerebrumError):
        return Failure(status_of(exc), exc.kind, exc.message)
    log.error("stream failed", exc_info=exc)
    return Failure(500, "internal_error", INTERNAL_ERROR)


def validation_response(exc: ValidationError) -> JSONResponse:
    """422 naming the first offending field, e.g. ``max_tokens`` or ``context.0.text``."""
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return error_response(
            400, "invalid_json", f"request body is not valid JSON: {first['msg']}"
        )
    field = ".".join(str(part) for part in first["loc"]) or None
    message = str(first["msg"])
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return error_response(
        422,
        "validation_error",
        f"{field}: {message}" if field else message,
        field=field,
    )


async def handle(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for everything above."""
    return response_for(exc)
