"""Structured JSON logs, one object a line, carrying the current request's context.

The request id middleware puts the id (and the log-context middleware the method, path
and client) into ``request_context``; every record logged while the request runs, by any
module, carries them.
"""

from __future__ import annotations

import logging
import logging.config
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

request_context: ContextVar[dict[str, Any] | None] = ContextVar("request_context", default=None)

# Attributes every LogRecord has; anything else passed via ``extra=`` is logged as a field.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def annotate(**fields: Any) -> None:
    """Add fields (model, backend, ...) to the current request's access log line."""
    context = request_context.get()
    if context is not None:
        context.update(fields)


@contextmanager
def bind(**fields: Any) -> Iterator[dict[str, Any]]:
    """Run a block with a request context (a fresh dict layered over the outer one)."""
    outer = request_context.get() or {}
    context = {**outer, **fields}
    token = request_context.set(context)
    try:
        yield context
    finally:
        request_context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = request_context.get()
        if context:
            entry.update((key, value) for key, value in context.items() if not key.startswith("_"))
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "info") -> dict[str, Any]:
    """Send every log (cerebrum's and uvicorn's) as JSON to stderr; returns uvicorn's config."""
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stderr}
        },
        "loggers": {
            "cerebrum": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
    logging.config.dictConfig(config)
    return config
