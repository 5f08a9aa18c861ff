"""The REPL's one-line views: the completion summary, error lines, listings."""

from __future__ import annotations

import httpx
import pytest
from cerebrum.repl.client import Outcome
from cerebrum.repl.report import (
    health_lines,
    model_lines,
    stats_lines,
    summary_line,
    uptime,
)

REQUEST = httpx.Request("POST", "http://127.0.0.1:7000/v1/complete/stream")


def test_summary_names_tokens_speed_first_token_time_model_and_request():
    outcome = Outcome(tokens=42, elapsed=1.41, ttft=0.085, request_id="4c1e")
    assert summary_line(outcome, "gemma") == (
        "-- 42 tokens, 31.7 tok/s, first token 85 ms, 1.41 s, model gemma, request 4c1e"
    )


def test_summary_of_a_stopped_completion_says_so():
    outcome = Outcome(tokens=3, elapsed=0.5, ttft=0.1, request_id="r1", stopped=True)
    assert summary_line(outcome, "smol").startswith("-- stopped: 3 tokens, 7.5 tok/s")


def test_summary_leaves_out_what_is_unknown():
    outcome = Outcome(tokens=1, elapsed=2.0, ttft=None, request_id=None)
    assert summary_line(outcome, None) == "-- 1 token, 2.00 s, model default"


LISTING = {
    "object": "list",
    "default": "gemma",
    "data": [
        {
            "id": "gemma",
            "backend_model": "gemma3-270m",
            "context_size": 2048,
            "format": "completion",
            "loaded": {"http://b:9000": "loaded"},
        },
        {
            "id": "smol",
            "backend_model": "smollm2-135m",
            "context_size": 2048,
            "format": "chat",
            "loaded": {"http://b:9000": None},
        },
    ],
}


@pytest.mark.parametrize(("current", "marked"), [(None, "gemma"), ("smol", "smol")])
def test_model_list_marks_the_model_prompts_go_to(current, marked):
    lines = model_lines(LISTING, current)
    assert [line for line in lines if line.startswith("*")] == [
        line for line in lines if line.startswith(f"* {marked}:")
    ]
    assert lines[0] == "{} gemma: gemma3-270m, context 2048, completion, loaded, default".format(
        "*" if marked == "gemma" else " "
    )


def test_stats_lines_show_counts_models_latency_and_backends():
    stats = {
        "uptime": 3.5,
        "requests": {"total": 5, "in_flight": 1, "queued": 0, "shed": 2, "failed": 1},
        "models": {"gemma": {"requests": 4, "failed": 1, "tokens": 99}},
        "latency": {"time_to_first_token": {"count": 4, "p50": 0.05, "p90": None}, "total": {}},
        "tokens": {"total": 99, "per_second": {"count": 4, "p50": 31.25}},
        "circuits": {"http://b:9000": {"state": "closed", "in_flight": 1, "opened_total": 0}},
        "process": {"rss_mb": 49.2},
    }
    assert stats_lines(stats) == [
        "requests: 5 total, 1 in flight, 0 queued, 2 shed, 1 failed, 0 cancelled",
        "models: gemma 4 requests (1 failed), 99 tokens",
        "first token: p50 50 ms",
        "total time: (no samples)",
        "tokens: 99 total, tok/s p50 31.2",
        "backend http://b:9000: circuit closed, 1 in flight, opened 0x",
        "orchestrator: up 3.50 s, RSS 49.2 MiB",
    ]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0421, "42 ms"), (59.9, "59.90 s"), (200, "3 min 20 s"), (7500.5, "2 h 05 min")],
)
def test_durations_are_shown_in_the_unit_that_reads_best(seconds, shown):
    assert uptime(seconds) == shown


def test_health_lines_show_each_backend_with_its_circuit():
    health = {
        "status": "degraded",
        "backends": [
            {
                "url": "http://b:9000",
                "reachable": False,
                "status": "unreachable",
                "latency_ms": None,
                "circuit": "open",
                "in_flight": 0,
                "detail": "connection refused",
            }
        ],
    }
    assert health_lines(health) == [
        "backends: degraded",
        "  http://b:9000: unreachable, circuit open, 0 in flight, connection refused",
    ]
