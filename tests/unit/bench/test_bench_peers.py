"""The peers comparison: LiteLLM's config and quiet environment, the OpenAI-shaped canned
answers of the instant upstream, and how added latency is computed."""

from __future__ import annotations

import json

import pytest
from cerebrum.sse_reader import EventParser

from bench import canned, peers


def test_openai_answers_carry_the_same_tokens_whole_and_streamed():
    whole = json.loads(canned.openai_completion(4))
    assert whole["object"] == "text_completion"
    assert whole["choices"][0]["text"] == "\n    if n"
    assert whole["usage"]["completion_tokens"] == 4
    events = list(EventParser().feed(canned.openai_completion_stream(4).encode()))
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["choices"][0]["text"]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "length"]


def test_nginx_serves_each_openai_shape_on_its_own_path():
    config = canned.nginx_config(8080, 2)
    whole = config.split("location = /v1/completions")[1].split("location")[0]
    streamed = config.split("location = /stream/v1/completions")[1].split("location")[0]
    assert "application/json" in whole
    assert "text/event-stream" in streamed
    assert "data: [DONE]" in streamed


def test_litellm_routes_both_model_names_to_the_upstream_with_a_dummy_key():
    config = peers.config("http://127.0.0.1:8080", "sk-test")
    routes = {e["model_name"]: e["litellm_params"] for e in config["model_list"]}
    assert routes[peers.ALIAS]["api_base"] == "http://127.0.0.1:8080/v1"
    assert routes[peers.STREAM_MODEL]["api_base"] == "http://127.0.0.1:8080/stream/v1"
    assert all(params["model"] == f"openai/{peers.MODEL}" for params in routes.values())
    assert config["general_settings"]["master_key"] == "sk-test"
    assert config["litellm_settings"]["telemetry"] is False


def test_litellm_runs_without_the_callers_litellm_settings_or_database(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABASE_URL", "postgresql://somewhere/db")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "from-the-caller")
    proxy = peers.LiteLLMProxy(workdir=tmp_path, port=1, upstream="http://x", master_key="k")
    env = proxy.environment()
    assert "DATABASE_URL" not in env
    assert "LITELLM_MASTER_KEY" not in env
    assert env["LITELLM_TELEMETRY_DISABLED"] == "true"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert "master_key" not in repr(proxy)  # the key stays out of reprs


def _wrk(p50: float, p99: float, rate: float) -> dict[str, object]:
    return {"latency_ms": {"p50": p50, "p99": p99}, "requests_per_s": rate, "error_total": 0,
            "cpu_us_per_request": 100.0, "load_before": [1.0], "load_after": [1.0]}  # fmt: skip


def test_added_latency_is_the_proxy_minus_the_upstream_alone_at_one_connection():
    runs = [
        {"mode": mode, "proxy": "p", "connections": conns,
         "proxied": _wrk(5.0, 9.0, 100.0), "direct": _wrk(1.0, 2.0, 9000.0)}
        for mode in peers.MODES for conns in peers.CONNECTIONS
    ]  # fmt: skip
    rows = peers.summary(runs, {"p": {"warm_kib": 10, "after_kib": 11, "hwm_kib": 12}})
    assert [(r["mode"], r["added_p50_ms"], r["added_p99_ms"]) for r in rows] == [
        ("whole", 4.0, 7.0),
        ("streamed", 4.0, 7.0),
    ]
    assert rows[0]["requests_per_s"] == 100.0
    assert rows[0]["rss_peak_kib"] == 12
