"""The peer proxy measured beside the orchestrator: LiteLLM's proxy (from PyPI).

It runs from its own venv (``$CEREBRUM_CACHE/bench-litellm-venv``, made by
`make bench-deps` from bench/requirements-litellm.txt), never the project's, in front of the
same instant upstream (nginx, `bench/canned.py`), which it reaches as an OpenAI-compatible
server (provider `openai/`, api_base and a dummy key: LiteLLM's documented setup; a
/v1/completions request stays a /v1/completions request upstream). nginx answers
without reading the request, so the streamed runs use the model name `STREAM_MODEL`,
routed to nginx's streamed path. Everything LiteLLM could fetch or report is switched off
(telemetry, the remote cost map and other remote lists, the admin UI, no database); under
strace its only connections were to the upstream. (An HTTPS_PROXY guard is not used: LiteLLM
builds HTTP clients per request, and proxy settings doubled its streamed latency.)
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from cerebrum.sse_reader import EventParser

from bench.memory import status_kib
from bench.prompts import SHORT_PROMPT
from bench.proxy import wrk
from bench.stack import ALIAS, MODEL
from harness.paths import CACHE
from harness.service import ServiceProcess

VENV = CACHE / "bench-litellm-venv"
STREAM_MODEL = f"{ALIAS}-stream"
MISSING = f"LiteLLM's proxy is needed for the peers comparison: make bench-deps (into {VENV})"

# No outbound call: telemetry vetoed, remote lists read from the package, no UI, no DB.
QUIET = {
    "LITELLM_TELEMETRY": "False",
    "LITELLM_TELEMETRY_DISABLED": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "DISABLE_ADMIN_UI": "True",
    "LITELLM_LOG": "ERROR",
}


def config(upstream: str, master_key: str) -> dict[str, object]:
    """LiteLLM's proxy config: ALIAS (whole answers) and STREAM_MODEL on the upstream."""

    def entry(name: str, base: str) -> dict[str, object]:
        params = {"model": f"openai/{MODEL}", "api_base": base, "api_key": "none"}
        return {"model_name": name, "litellm_params": params}

    return {
        "model_list": [
            entry(ALIAS, f"{upstream}/v1"),
            entry(STREAM_MODEL, f"{upstream}/stream/v1"),
        ],
        "litellm_settings": {"telemetry": False, "drop_params": True, "callbacks": []},
        "general_settings": {"master_key": master_key, "disable_spend_logs": True},
    }


@dataclass(kw_only=True)
class LiteLLMProxy(ServiceProcess):
    """`litellm --config` (one uvicorn worker) in front of `upstream`, behind `master_key`."""

    upstream: str
    master_key: str = field(repr=False)

    name = "litellm"
    health_path = "/health/liveliness"  # /health itself calls every model upstream

    def command(self) -> list[str]:
        binary = VENV / "bin" / "litellm"
        if not binary.exists():
            raise RuntimeError(MISSING)
        path = self.workdir / "litellm.json"  # JSON is YAML: no PyYAML needed here
        path.write_text(json.dumps(config(self.upstream, self.master_key), indent=1))
        return [str(binary), "--config", str(path), "--host", "127.0.0.1",
                "--port", str(self.port), "--num_workers", "1"]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("LITELLM")}
        env.pop("DATABASE_URL", None)
        return {**env, **QUIET}

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.master_key}"}


@dataclass(frozen=True, slots=True)
class Side:
    """One proxy under test: where it listens, its client key, its process."""

    name: str
    url: str
    headers: dict[str, str]
    pid: int
    stream_model: str  # the model name its streamed requests carry
    routes: dict[str, str]  # mode -> the upstream route it calls (measured alone too)


MODES = {"whole": False, "streamed": True}
LATENCY_CONNECTIONS = 1  # latency with nothing queued: what a proxy adds to one request
RATE_CONNECTIONS = 16  # requests/s with the proxy's core saturated (LiteLLM's streams
# queue for seconds at 64 connections: few would finish within a run)
CONNECTIONS = (LATENCY_CONNECTIONS, RATE_CONNECTIONS)


# The upstream routes each proxy calls, per mode.
ORCHESTRATOR_ROUTES = {"whole": "/completion", "streamed": "/completion"}  # always streams
LITELLM_ROUTES = {"whole": "/v1/completions", "streamed": "/stream/v1/completions"}


def body(model: str, stream: bool) -> bytes:
    """The one OpenAI /v1/completions request every side gets (16 tokens asked)."""
    return orjson.dumps(
        {"model": model, "prompt": SHORT_PROMPT, "max_tokens": 16, "stream": stream}
    )


def version() -> str:
    """The installed LiteLLM's version ("" when absent)."""
    python = VENV / "bin" / "python"
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    try:
        result = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60
        )
    except OSError:
        return ""
    return result.stdout.strip()


def check(side: Side, mode: str) -> None:
    """One request, before measuring: a whole answer has text, a stream ends with [DONE]."""
    stream = MODES[mode]
    model = side.stream_model if stream else ALIAS
    headers = {**side.headers, "Content-Type": "application/json"}
    reply = httpx.post(
        side.url + "/v1/completions", content=body(model, stream), headers=headers, timeout=60
    )
    ok = reply.status_code == 200 and (
        EventParser().feed(reply.content)[-1:] == [b"[DONE]"]
        if stream
        else reply.json()["choices"][0]["text"]
    )
    if not ok:
        raise RuntimeError(f"{side.name} {mode}: HTTP {reply.status_code} {reply.text[:300]}")


def compare(
    upstream: str, sides: list[Side], seconds: float, warmup: int = 50
) -> dict[str, object]:
    """Each side, then the upstream alone (the routes each side uses), per mode and number
    of connections, back to back; RSS of each side after warm-up and at the end."""
    rss: dict[str, dict[str, int]] = {}
    for side in sides:
        for mode in MODES:
            for _ in range(warmup):
                check(side, mode)
        rss[side.name] = {"warm_kib": status_kib(side.pid, "VmRSS")}
    runs: list[dict[str, Any]] = []
    for mode, stream in MODES.items():
        for connections in CONNECTIONS:
            for side in sides:
                model = side.stream_model if stream else ALIAS
                request = body(model, stream)
                measured = wrk(side.url + "/v1/completions", request, side.headers, connections,
                               seconds, pid=side.pid)  # fmt: skip
                route = side.routes[mode]
                alone = wrk(upstream + route, request, {}, connections, seconds)
                runs.append({"mode": mode, "proxy": side.name, "connections": connections,
                             "route": route, "proxied": measured, "direct": alone})  # fmt: skip
    for side in sides:
        rss[side.name] |= {"after_kib": status_kib(side.pid, "VmRSS"),
                           "hwm_kib": status_kib(side.pid, "VmHWM")}  # fmt: skip
    return {
        "runs": runs,
        "rss": rss,
        "litellm": version(),
        "rate_connections": RATE_CONNECTIONS,
        "summary": summary(runs, rss),
    }


def summary(
    runs: list[dict[str, Any]], rss: Mapping[str, Mapping[str, int]]
) -> list[dict[str, object]]:
    """One row per proxy and mode: requests/s at RATE_CONNECTIONS, latency added at one
    connection (p50/p99 of the proxy minus those of the upstream alone), CPU per request, RSS."""
    rows = []
    for mode in MODES:
        for name in rss:
            of = {r["connections"]: r for r in runs if r["mode"] == mode and r["proxy"] == name}
            one, many = of[LATENCY_CONNECTIONS], of[RATE_CONNECTIONS]
            lat, base = one["proxied"]["latency_ms"], one["direct"]["latency_ms"]
            rows.append({
                "mode": mode,
                "proxy": name,
                "requests_per_s": many["proxied"]["requests_per_s"],
                "direct_requests_per_s": many["direct"]["requests_per_s"],
                "p50_ms": lat["p50"],
                "p99_ms": lat["p99"],
                "added_p50_ms": round(lat["p50"] - base["p50"], 3),
                "added_p99_ms": round(lat["p99"] - base["p99"], 3),
                "cpu_us_per_request": many["proxied"]["cpu_us_per_request"],
                "errors": one["proxied"]["error_total"] + many["proxied"]["error_total"],
                "rss_warm_kib": rss[name]["warm_kib"],
                "rss_peak_kib": rss[name]["hwm_kib"],
                "load_before": one["proxied"]["load_before"],
                "load_after": many["proxied"]["load_after"],
            })  # fmt: skip
    return rows
