"""Helpers for the orchestrator's integration tests: the process, its settings, SSE parsing."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tools.llama_local import LlamaServer
from tools.service_process import ServiceProcess

CLIENT_KEY = "client-" + secrets.token_urlsafe(16)

# Alias -> (router model id, prompt format). Each slot has 2048 tokens (4096 / 2 slots).
MODELS = {"gemma": ("gemma3-270m", "completion"), "smol": ("smollm2-135m", "chat")}


@dataclass(kw_only=True)
class Orchestrator(ServiceProcess):
    """`python -m cerebrum` under uvicorn on a free loopback port."""

    env: dict[str, str] = field(repr=False)  # holds the keys: kept out of failure reports

    name = "cerebrum"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "cerebrum"]

    def environment(self) -> dict[str, str]:
        return self.env

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {CLIENT_KEY}"}

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"raw": line})
        return lines


def orchestrator_env(llama: LlamaServer, port: int, **settings: object) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CEREBRUM_")}
    models = [
        {"alias": alias, "model": model, "context_size": 2048, "format": fmt}
        for alias, (model, fmt) in MODELS.items()
    ]
    env.update(
        CEREBRUM_BACKENDS=llama.url,
        CEREBRUM_API_KEY=llama.api_key,
        CEREBRUM_MODELS=json.dumps(models),
        CEREBRUM_DEFAULT_MODEL="gemma",
        CEREBRUM_CLIENT_KEYS=CLIENT_KEY,
        CEREBRUM_PORT=str(port),
        CEREBRUM_LOG_LEVEL="info",
        CEREBRUM_PING_INTERVAL="0.2",
    )
    env.update({f"CEREBRUM_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
