"""The processes a benchmark measures, each on a free loopback port and stopped at the end.

- the real llama-server (tools/llama_local.py) in router mode, serving the lab's Gemma 3 270M;
- the orchestrator under uvicorn (the integration tests' `Orchestrator`), optionally pinned
  to CPUs with taskset;
- nginx as an instant upstream: canned answers shaped like llama-server's `/health` and
  `/completion` stream, so that the orchestrator is the only thing being measured.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import canned
from tests.integration.orchestrator.support import CLIENT_KEY, Orchestrator
from tools.llama_local import LlamaServer, free_port
from tools.service_process import ServiceProcess

MODEL = "gemma3-270m"  # the router-mode id of the lab's completion model
ALIAS = "gemma"
NGINX_MISSING = (
    "nginx is needed for the proxy benchmark (an instant upstream): apt-get install -y nginx-light"
)


def llama_server(workdir: Path, parallel: int, ctx_per_slot: int) -> LlamaServer:
    """A router-mode llama-server with `parallel` slots of `ctx_per_slot` tokens (not started)."""
    return LlamaServer.with_lab_models(workdir, parallel=parallel, ctx_size=parallel * ctx_per_slot)


@dataclass(kw_only=True)
class BenchOrchestrator(Orchestrator):
    """The orchestrator process, run under `taskset -c CPUS` when `cpus` is set."""

    cpus: str | None = None

    def command(self) -> list[str]:
        return _pinned(self.cpus, super().command())

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the orchestrator is not running")
        return self.process.pid


def orchestrator(
    workdir: Path,
    backend: str,
    api_key: str,
    context_size: int,
    cpus: str | None = None,
    app: Path | None = None,
    **settings: object,
) -> BenchOrchestrator:
    """The orchestrator in front of `backend` serving MODEL as ALIAS (not started).

    Production-like settings: a client key, info-level JSON access logs, the default ping
    interval; `settings` (e.g. max_in_flight=256) become CEREBRUM_* variables. With `app`,
    the `cerebrum` package is imported from that directory instead of the installed one.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CEREBRUM_")}
    models = [{"alias": ALIAS, "model": MODEL, "context_size": context_size}]
    env.update(
        CEREBRUM_BACKENDS=backend,
        CEREBRUM_API_KEY=api_key,
        CEREBRUM_MODELS=json.dumps(models),
        CEREBRUM_CLIENT_KEYS=CLIENT_KEY,
        CEREBRUM_PORT=str(port),
        CEREBRUM_LOG_LEVEL="info",
    )
    env.update({f"CEREBRUM_{name.upper()}": str(value) for name, value in settings.items()})
    if app is not None:
        env["PYTHONPATH"] = str(app)
    return BenchOrchestrator(env=env, workdir=workdir, port=port, cpus=cpus)


@dataclass(kw_only=True)
class InstantUpstream(ServiceProcess):
    """nginx (one worker) answering llama-server's routes with canned bodies, at once."""

    cpus: str | None = None
    tokens: int = canned.TOKENS

    name = "nginx"

    def command(self) -> list[str]:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError(NGINX_MISSING)
        config = self.workdir / "nginx.conf"
        config.write_text(canned.nginx_config(self.port, self.tokens))
        return _pinned(
            self.cpus, [binary, "-e", "stderr", "-p", str(self.workdir), "-c", str(config)]
        )


@contextmanager
def running(*services: ServiceProcess) -> Iterator[None]:
    """Start the services in order; stop all of them (in reverse) however the block ends."""
    with ExitStack() as stack:
        for service in services:
            stack.callback(service.stop)
            service.start(timeout=120)
        yield


def _pinned(cpus: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus else argv
