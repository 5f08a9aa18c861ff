"""The processes a benchmark measures, each on a free loopback port and stopped at the end.

- the real llama-server (harness/llama_server.py) in router mode, serving the lab's Gemma 3 270M;
- the orchestrator under uvicorn (harness/orchestrator.py), optionally pinned to CPUs;
- nginx as an instant upstream: canned answers shaped like llama-server's `/health` and
  `/completion` stream, and like an OpenAI server's `/v1/completions` (the peer proxies'
  upstream), so that the proxy in front of it is the only thing being measured.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench import canned
from harness.llama_server import LlamaServer
from harness.orchestrator import LAB_ALIASES, Orchestrator, lab_models, orchestrator_env
from harness.ports import free_port
from harness.service import ServiceProcess

ALIAS = "gemma"
MODEL = LAB_ALIASES[ALIAS]  # the router-mode id of the lab's completion model
NGINX_MISSING = (
    "nginx is needed for the proxy benchmark (an instant upstream): apt-get install -y nginx-light"
)


def llama_server(workdir: Path, parallel: int, ctx_per_slot: int) -> LlamaServer:
    """A router-mode llama-server with `parallel` slots of `ctx_per_slot` tokens (not started)."""
    return LlamaServer.with_lab_models(workdir, parallel=parallel, ctx_size=parallel * ctx_per_slot)


def orchestrator(
    workdir: Path,
    backend: str,
    api_key: str,
    context_size: int,
    cpus: str | None = None,
    app: Path | None = None,
    **settings: object,
) -> Orchestrator:
    """The orchestrator in front of `backend` serving MODEL as ALIAS (not started).

    Production-like settings: a client key, info-level JSON access logs, the default ping
    interval; `settings` (e.g. max_in_flight=256) become CEREBRUM_* variables. With `app`,
    the `cerebrum` package is imported from that directory instead of the installed one.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    models = lab_models(context_size, {ALIAS: MODEL})
    env = orchestrator_env(backend, api_key, port, models, **settings)
    if app is not None:
        env["PYTHONPATH"] = str(app)
    return Orchestrator(env=env, workdir=workdir, port=port, cpus=cpus)


@dataclass(kw_only=True)
class InstantUpstream(ServiceProcess):
    """nginx (one worker) answering llama-server's and OpenAI's routes with canned bodies."""

    tokens: int = canned.TOKENS

    name = "nginx"

    def command(self) -> list[str]:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError(NGINX_MISSING)
        config = self.workdir / "nginx.conf"
        config.write_text(canned.nginx_config(self.port, self.tokens))
        return [binary, "-e", "stderr", "-p", str(self.workdir), "-c", str(config)]
