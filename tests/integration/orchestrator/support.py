"""The orchestrator's integration tests: their settings on top of harness/orchestrator.py."""

from __future__ import annotations

from harness import orchestrator as base
from harness.llama_server import LlamaServer

SLOT_CONTEXT = 2048  # tokens per slot: 4096 / 2 slots


def orchestrator_env(llama: LlamaServer, port: int, **settings: object) -> dict[str, str]:
    """Both lab models ("gemma" by default, "smol") on `llama`, backends pinged every 0.2 s
    (so that breaker tests see a backend come back at once); `settings` win."""
    return base.orchestrator_env(
        llama.url,
        llama.api_key,
        port,
        base.lab_models(SLOT_CONTEXT),
        **{"default_model": "gemma", "ping_interval": "0.2", **settings},
    )
