"""Helpers for the orchestrator's integration tests: the process, its settings, SSE parsing."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tools.llama_local import LlamaServer

CLIENT_KEY = "client-" + secrets.token_urlsafe(16)

# Alias -> (router model id, prompt format). Each slot has 2048 tokens (4096 / 2 slots).
MODELS = {"gemma": ("gemma3-270m", "completion"), "smol": ("smollm2-135m", "chat")}


@dataclass
class Orchestrator:
    """`python -m cerebrum` under uvicorn on a free loopback port."""

    env: dict[str, str]
    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "cerebrum.log"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {CLIENT_KEY}"}

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def start(self, timeout: float = 15.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cerebrum"],
            cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"orchestrator exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"orchestrator not up after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"raw": line})
        return lines

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"


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


def sse_data(lines: list[str]) -> list[object]:
    """The JSON (or [DONE]) payloads of an SSE stream's data lines."""
    events: list[object] = []
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
