"""logs.py: one JSON object a line, with the request's context and extra fields."""

from __future__ import annotations

import json
import logging

from cerebrum import logs


def record(message: str, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("cerebrum.test", logging.WARNING, __file__, 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


def test_a_line_is_one_json_object_with_level_logger_and_message():
    line = json.loads(logs.JsonFormatter().format(record("hello")))
    assert (line["level"], line["logger"], line["msg"]) == ("warning", "cerebrum.test", "hello")
    assert line["ts"].endswith("Z")


def test_lines_carry_the_current_request_context():
    with logs.bind(request_id="r-1", path="/v1/complete"):
        logs.annotate(model="m1")
        line = json.loads(logs.JsonFormatter().format(record("x")))
    assert (line["request_id"], line["path"], line["model"]) == ("r-1", "/v1/complete", "m1")


def test_context_ends_with_the_block():
    with logs.bind(request_id="r-1"):
        pass
    assert logs.request_context.get() is None
    assert "request_id" not in json.loads(logs.JsonFormatter().format(record("x")))


def test_extra_fields_are_logged():
    line = json.loads(logs.JsonFormatter().format(record("x", attempt=2, error="refused")))
    assert (line["attempt"], line["error"]) == (2, "refused")
