"""Run the real llama-server locally: shared by the integration tests and `make run`.

A `LlamaServer` is one router-mode llama-server (built by tools/build_llama_server.py)
serving the lab models (fetched by tools/fetch_assets.py) behind an API key, on a
loopback port; stop() and start() keep the port, as a restarted backend would.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from tools.service_process import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CEREBRUM_CACHE", Path.home() / ".cache" / "cerebrum"))

# Router-mode model id (the file name in --models-dir, without .gguf) -> cached GGUF file.
LAB_MODELS = {
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_tool(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / name), *args],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return result.stdout.strip()


def build_binary() -> Path:
    """The llama-server built from the pinned source with the role's flags (cached)."""
    return Path(_run_tool("build_llama_server.py"))


def link_models(models_dir: Path) -> list[str]:
    """Fetch the lab models and link them into models_dir under their router ids."""
    _run_tool("fetch_assets.py", "models")
    models_dir.mkdir(parents=True, exist_ok=True)
    for model_id, filename in LAB_MODELS.items():
        link = models_dir / f"{model_id}.gguf"
        if not link.exists():
            link.symlink_to(CACHE / "models" / filename)
    return sorted(LAB_MODELS)


@dataclass(kw_only=True)
class LlamaServer(ServiceProcess):
    """A real llama-server process in router mode; stop() and start() keep its port."""

    binary: Path
    models_dir: Path
    api_key: str = field(repr=False)  # kept out of failure reports and logs
    models: list[str]
    parallel: int = 2
    ctx_size: int = 4096

    name = "llama-server"

    @classmethod
    def with_lab_models(cls, workdir: Path, **settings: Any) -> Self:
        """One serving both lab models from `workdir`, on a free port behind a new key
        (not started); `settings` override any field (port, api_key, parallel, ...)."""
        workdir.mkdir(parents=True, exist_ok=True)
        fields: dict[str, Any] = {
            "binary": build_binary(),
            "models_dir": workdir / "models",
            "workdir": workdir,
            "port": free_port(),
            "api_key": secrets.token_urlsafe(32),
            "models": link_models(workdir / "models"),
        }
        return cls(**(fields | settings))

    def command(self) -> list[str]:
        return [
            str(self.binary), "--host", "127.0.0.1", "--port", str(self.port),
            "--models-dir", str(self.models_dir), "--models-max", str(len(self.models)),
            "--metrics", "--slots",
            "--parallel", str(self.parallel), "--ctx-size", str(self.ctx_size),
            "--threads", "2",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        # The key goes through the environment, as roles/llama_cpp does it: router-mode
        # children inherit it, whereas --api-key(-file) is stripped from their arguments.
        return {**os.environ, "LLAMA_API_KEY": self.api_key}

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def slots(self, model: str) -> list[dict[str, object]]:
        """The slots of one model's child server (router mode asks by ?model=)."""
        response = httpx.get(
            f"{self.url}/slots", params={"model": model}, headers=self.headers, timeout=5
        )
        response.raise_for_status()
        slots: list[dict[str, object]] = response.json()
        return slots
