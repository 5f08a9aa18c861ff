"""repl/errors.py: each failure as one readable line (HTTP answers, transport, stream end)."""

from __future__ import annotations

import httpx
from cerebrum.repl.errors import http_line, stream_error_line, transport_line

REQUEST = httpx.Request("POST", "http://127.0.0.1:7000/v1/complete/stream")


def test_http_error_line_carries_the_orchestrator_type_and_message():
    body = b'{"error": {"type": "unknown_model", "message": "unknown model x; known: a, b"}}'
    assert http_line(400, body) == "400 unknown_model: unknown model x; known: a, b"


def test_503_line_says_when_to_retry():
    body = b'{"error": {"type": "overloaded", "message": "server is busy"}}'
    assert http_line(503, body, "2") == "503 overloaded: server is busy; retry after 2 s"


def test_a_message_repeating_its_type_is_shown_once():
    body = b'{"error": {"type": "overloaded", "message": "overloaded: 1 in flight; retry later"}}'
    assert http_line(503, body) == "503 overloaded: 1 in flight; retry later"


def test_401_line_says_where_the_key_comes_from():
    line = http_line(401, b'{"error": {"type": "unauthorized", "message": "invalid API key"}}')
    assert line.startswith("401 unauthorized: invalid API key (")
    assert "CEREBRUM_CLIENT_KEY" in line


def test_a_non_json_error_body_is_shown_short_on_one_line():
    line = http_line(502, b"<html>\n<body>Bad Gateway" + b" x" * 300 + b"</body>")
    assert "\n" not in line
    assert line.startswith("502: <html> <body>Bad Gateway")
    assert len(line) < 220, line


def test_connection_refused_line_names_the_url_without_errno_noise():
    exc = httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST)
    assert transport_line(exc, "http://127.0.0.1:7000") == (
        "cannot connect to http://127.0.0.1:7000: Connection refused"
    )


def test_connection_lost_mid_stream_says_after_how_many_tokens():
    exc = httpx.RemoteProtocolError("peer closed connection", request=REQUEST)
    assert transport_line(exc, "http://h:1", tokens=7) == (
        "connection to http://h:1 lost: peer closed connection (after 7 tokens)"
    )


def test_read_timeout_line_says_how_long_it_waited():
    request = httpx.Request("GET", "http://h:1/", extensions={"timeout": {"read": 120.0}})
    exc = httpx.ReadTimeout("timed out", request=request)
    assert transport_line(exc, "http://h:1") == "no answer from http://h:1 for 120 s"


def test_stream_error_event_is_one_line():
    error = {"type": "backend_error", "message": "backend closed the stream"}
    assert stream_error_line(error, 12) == (
        "stream failed after 12 tokens: backend_error: backend closed the stream"
    )


def test_stream_error_event_before_any_token_is_a_failed_completion():
    error = {"type": "backend_unavailable", "message": "http://b:9000 unreachable"}
    assert stream_error_line(error, 0) == (
        "completion failed: backend_unavailable: http://b:9000 unreachable"
    )
