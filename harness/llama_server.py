"""The real llama-server on this machine, for the integration tests, the benchmarks and
`make run`.

A `LlamaServer` is one router-mode llama-server (built by `harness.llama_build`) serving
the lab models (`harness.assets`) behind an API key, on a loopback port; stop() and start()
keep the port, as a restarted backend would.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from harness import role
from harness.assets import link_models
from harness.llama_build import build
from harness.ports import free_port
from harness.service import ServiceProcess


@dataclass(kw_only=True)
class LlamaServer(ServiceProcess):
    """A real llama-server process in router mode; stop() and start() keep its port."""

    binary: Path
    models_dir: Path
    api_key: str = field(repr=False)  # kept out of failure reports and logs
    models: list[str]
    parallel: int = 2
    ctx_size: int = 4096
    threads: int = 2
    cache_reuse: int | None = None  # --cache-reuse; None: the llama_cpp role's default
    extra_args: tuple[str, ...] = ()  # more options, e.g. ("--spm-infill",)

    name = "llama-server"

    @classmethod
    def with_lab_models(cls, workdir: Path, **settings: Any) -> Self:
        """One serving both lab models from `workdir`, on a free port behind a new key
        (not started); `settings` override any field (port, api_key, parallel, cpus...)."""
        workdir.mkdir(parents=True, exist_ok=True)
        fields: dict[str, Any] = {
            "binary": build(),
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
            "--cache-reuse", str(self._cache_reuse()),
            "--threads", str(self.threads), *self.extra_args,
        ]  # fmt: skip

    def _cache_reuse(self) -> int:
        if self.cache_reuse is not None:
            return self.cache_reuse
        return int(role.defaults("llama_cpp")["llama_cpp_cache_reuse"])

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
