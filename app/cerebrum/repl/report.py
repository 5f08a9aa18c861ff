"""Plain-text views of what the orchestrator answered: the completion's summary line, the model
list, /v1/stats and /v1/vps/health. Pure functions of their input, so they are tested alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cerebrum.repl.client import Outcome

_COUNTS = (
    ("total", "total"),
    ("in_flight", "in flight"),
    ("queued", "queued"),
    ("shed", "shed"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
)


def duration(seconds: float) -> str:
    """``85 ms`` below a second, ``1.41 s`` above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def uptime(seconds: float) -> str:
    """``2 h 05 min``, ``3 min 20 s``, or ``duration`` below a minute."""
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    if whole >= 60:
        return f"{whole // 60} min {whole % 60:02d} s"
    return duration(seconds)


def summary_line(outcome: Outcome, model: str | None) -> str:
    """``-- 42 tokens, 31.6 tok/s, first token 85 ms, 1.41 s, model gemma, request 4c1e...``"""
    parts = [f"{outcome.tokens} token{'' if outcome.tokens == 1 else 's'}"]
    speed = outcome.tokens_per_second
    if speed is not None:
        parts.append(f"{speed:.1f} tok/s")
    if outcome.ttft is not None:
        parts.append(f"first token {duration(outcome.ttft)}")
    parts.append(duration(outcome.elapsed))
    parts.append(f"model {model or 'default'}")
    if outcome.request_id:
        parts.append(f"request {outcome.request_id}")
    prefix = "-- stopped: " if outcome.stopped else "-- "
    return prefix + ", ".join(parts)


def model_lines(listing: Mapping[str, Any], current: str | None) -> list[str]:
    """One line per model of a /v1/models answer; ``*`` marks the one prompts go to."""
    default = listing.get("default")
    chosen = current or default
    lines = []
    for model in listing.get("data", []):
        alias = model.get("id", "?")
        notes = [str(model.get("backend_model", "?")), f"context {model.get('context_size', '?')}"]
        notes.append(str(model.get("format", "?")))
        loaded = sorted({str(state) for state in (model.get("loaded") or {}).values()})
        if loaded:
            notes.append("/".join(loaded))
        if alias == default:
            notes.append("default")
        mark = "*" if alias == chosen else " "
        lines.append(f"{mark} {alias}: {', '.join(notes)}")
    return lines or ["(no models configured)"]


def model_ids(listing: Mapping[str, Any]) -> list[str]:
    return [str(model["id"]) for model in listing.get("data", []) if "id" in model]


def stats_lines(stats: Mapping[str, Any]) -> list[str]:
    """The /v1/stats answer in a few lines."""
    requests = stats.get("requests", {})
    latency = stats.get("latency", {})
    tokens = stats.get("tokens", {})
    models = [
        f"{alias} {figures.get('requests', 0)} requests ({figures.get('failed', 0)} failed), "
        f"{figures.get('tokens', 0)} tokens"
        for alias, figures in stats.get("models", {}).items()
    ]
    lines = [
        "requests: " + ", ".join(f"{requests.get(name, 0)} {label}" for name, label in _COUNTS),
        "models: " + ("; ".join(models) or "(none used yet)"),
        "first token: " + _percentiles(latency.get("time_to_first_token", {}), duration),
        "total time: " + _percentiles(latency.get("total", {}), duration),
        f"tokens: {tokens.get('total', 0)} total, tok/s "
        + _percentiles(tokens.get("per_second", {}), lambda value: f"{value:.1f}"),
    ]
    for name, circuit in stats.get("circuits", {}).items():
        lines.append(
            f"{name}: circuit {circuit.get('state', '?')}, "
            f"{circuit.get('in_flight', 0)} in flight, opened {circuit.get('opened_total', 0)}x"
        )
    rss = stats.get("process", {}).get("rss_mb")
    memory = f", RSS {rss} MiB" if rss is not None else ""
    lines.append(f"orchestrator: up {uptime(float(stats.get('uptime', 0)))}{memory}")
    return lines


def health_lines(health: Mapping[str, Any]) -> list[str]:
    """The /v1/vps/health answer: the overall status, then one line per backend."""
    lines = [f"backends: {health.get('status', '?')}"]
    for backend in health.get("backends", []):
        latency = backend.get("latency_ms")
        parts = [str(backend.get("status", "?"))]
        if latency is not None:
            parts.append(f"{latency:.1f} ms")
        parts.append(f"circuit {backend.get('circuit', '?')}")
        parts.append(f"{backend.get('in_flight', 0)} in flight")
        if backend.get("detail"):
            parts.append(str(backend["detail"]))
        lines.append(f"  {backend.get('backend', '?')}: {', '.join(parts)}")
    return lines


def _percentiles(summary: Mapping[str, Any], show: Callable[[float], str]) -> str:
    figures = [
        f"{name} {show(value)}"
        for name, value in summary.items()
        if name.startswith("p") and value is not None
    ]
    return ", ".join(figures) or "(no samples)"
