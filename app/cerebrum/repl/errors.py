"""Failures as one readable line each: HTTP answers, lost connections, mid-stream errors.

The lines are built from status codes, the orchestrator's ``{"error": {"type", "message"}}``
bodies and exception reasons; none of them carries a request header, so never the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")
_KEY_HINT = "send the orchestrator's client key: --key, CEREBRUM_CLIENT_KEY or --env-file"
_BODY_CHARS = 200


class ReplError(Exception):
    """A failure the REPL shows as one line before it carries on."""


def http_line(status: int, body: bytes, retry_after: str | None = None) -> str:
    """``503 overloaded: server is busy; retry after 1 s`` for an error answer."""
    kind, message = _error_of(body)
    line = f"{status} {kind}: {message}" if kind else f"{status}: {message}"
    if status == 401:
        line += f" ({_KEY_HINT})"
    if retry_after:
        line += f"; retry after {retry_after} s"
    return line


def transport_line(exc: httpx.TransportError, url: str, tokens: int | None = None) -> str:
    """``cannot connect to URL: Connection refused``, or the connection lost mid-stream."""
    reason = _reason(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect to {url}: timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {url}: {reason}"
    if isinstance(exc, httpx.ReadTimeout):
        lost = f"no answer from {url} for {_seconds(exc)}"
    else:
        lost = f"connection to {url} lost: {reason}"
    return lost if tokens is None else f"{lost} (after {tokens} tokens)"


def stream_error_line(error: Mapping[str, Any], tokens: int) -> str:
    """The stream's final ``{"done": true, "error": {...}}`` event as a line."""
    kind = error.get("type") or "error"
    message = error.get("message") or "the stream failed"
    what = f"stream failed after {tokens} tokens" if tokens else "completion failed"
    return f"{what}: {kind}: {message}"


def _error_of(body: bytes) -> tuple[str | None, str]:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        kind, message = error.get("type"), str(error["message"])
        return kind, message.removeprefix(f"{kind}: ")  # "overloaded: overloaded: ..." once
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if len(text) > _BODY_CHARS:
        text = text[:_BODY_CHARS] + "..."
    return None, text or "(no body)"


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _ERRNO.sub("", text)


def _seconds(exc: httpx.TimeoutException) -> str:
    try:
        timeout = exc.request.extensions.get("timeout", {}).get("read")
    except RuntimeError:  # an exception raised without its request
        timeout = None
    return f"{timeout:g} s" if isinstance(timeout, int | float) else "too long"
