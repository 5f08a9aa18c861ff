"""The orchestrator (`python -m cerebrum` under uvicorn) as a local process, and the one
place its environment is built for the tests, the benchmarks and `make run`.

`orchestrator_env` starts from the caller's environment without any CEREBRUM_* variable
(so a developer's settings never leak into a run), then sets the backend, its key, the
models, a client key, the port and info-level logs; `settings` add CEREBRUM_<NAME>.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from harness.assets import MODELS
from harness.service import ServiceProcess

CLIENT_KEY = "client-" + secrets.token_urlsafe(16)
CLIENT_NAME = "key-1"  # what the orchestrator calls CLIENT_KEY, the first (bare) client key

# The aliases the tests and benchmarks give the lab models: alias -> router model id; the
# FIM ones prompt a model whose FIM tokens harness.assets marked (fill in the middle).
LAB_ALIASES = {"gemma": "gemma3-270m", "smol": "smollm2-135m"}
LAB_FIM_ALIASES = {"smol-fim": "smollm2-135m"}


def lab_models(
    context_size: int,
    aliases: Mapping[str, str] = LAB_ALIASES,
    fim_aliases: Mapping[str, str] = LAB_FIM_ALIASES,
    fim_order: str = "psm",
    max_suffix_tokens: int | None = None,
) -> list[dict[str, object]]:
    """CEREBRUM_MODELS entries for lab models under `aliases` (alias -> router id), each
    with `context_size` tokens and its prompt format, then `fim_aliases` with format fim,
    prompted in `fim_order` (psm, spm), the suffix capped at `max_suffix_tokens` if given."""
    by_id = {model.id: model for model in MODELS}
    entries: list[dict[str, object]] = [
        {"alias": alias, "model": model, "context_size": context_size,
         "format": by_id[model].prompt_format}
        for alias, model in aliases.items()
    ]  # fmt: skip
    for alias, model in fim_aliases.items():
        marks = by_id[model].fim
        if marks is None:
            raise ValueError(f"lab model {model} has no FIM tokens")
        entries.append(
            {"alias": alias, "model": model, "context_size": context_size, "format": "fim",
             "fim": marks.spelling | {"order": fim_order, "max_suffix_tokens": max_suffix_tokens}}
        )  # fmt: skip
    return entries


def orchestrator_env(
    backends: str,
    api_key: str,
    port: int,
    models: Sequence[Mapping[str, object]],
    /,
    **settings: object,
) -> dict[str, str]:
    """The orchestrator's environment: `backends` (comma-separated URLs) behind `api_key`,
    `models` (CEREBRUM_MODELS entries) on `port`, clients holding CLIENT_KEY; `settings`
    become CEREBRUM_<NAME> and win over all of these (backends="...", api_key="wrong" too);
    a None leaves the variable out (client_keys=None: no client key)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CEREBRUM_")}
    chosen: dict[str, object] = {
        "backends": backends,
        "api_key": api_key,
        "models": json.dumps(list(models)),
        "port": port,
        "log_level": "info",
        "client_keys": CLIENT_KEY,
        **settings,
    }
    env.update(
        {
            f"CEREBRUM_{name.upper()}": str(value)
            for name, value in chosen.items()
            if value is not None
        }
    )
    return env


@dataclass(kw_only=True)
class Orchestrator(ServiceProcess):
    """`python -m cerebrum` under uvicorn on a loopback port, with the environment `env`."""

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
