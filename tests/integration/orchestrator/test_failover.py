"""Two real llama-servers behind one orchestrator: requests go to the one that is up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.llama_server import LlamaServer
from harness.ports import free_port


@pytest.fixture
def second_backend(llama_server: LlamaServer, tmp_path: Path) -> Iterator[LlamaServer]:
    """Another llama-server with the same models and key, as a second VPS would be."""
    server = LlamaServer(
        binary=llama_server.binary,
        models_dir=llama_server.models_dir,
        workdir=tmp_path,
        port=free_port(),
        api_key=llama_server.api_key,
        models=llama_server.models,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_requests_fail_over_to_the_backend_that_is_up(
    start_orchestrator, llama_server, second_backend
):
    instance = start_orchestrator(backends=f"{second_backend.url},{llama_server.url}", retries=1)
    body = {"prompt": "def add(a, b):", "max_tokens": 4}
    with instance.client() as client:
        assert client.post("/v1/complete", json=body).status_code == 200
        second_backend.stop()
        answers = [client.post("/v1/complete", json=body) for _ in range(4)]
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        assert all(a.json()["completion_tokens"] > 0 for a in answers)

        health = {b["backend"]: b for b in client.get("/v1/vps/health").json()["backends"]}
        assert health["backend 1"]["reachable"] is False, health  # second_backend, listed first
        assert health["backend 2"]["reachable"] is True, health
