"""Fixtures that start the real llama-server (built from the pinned llama.cpp source).

`llama_server` is session-scoped: one router-mode llama-server serving both lab models
behind an API key, on a free loopback port. A test that stops it (circuit-breaker tests)
gets it started again after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.llama_server import LlamaServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One router-mode llama-server for the whole session, serving both lab models."""
    server = LlamaServer.with_lab_models(tmp_path_factory.mktemp("llama-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _llama_server_running_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that stopped the shared llama-server (breaker tests) leaves it running again."""
    yield
    if "llama_server" in request.fixturenames:
        request.getfixturevalue("llama_server").start()
