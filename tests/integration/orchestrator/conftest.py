"""The orchestrator under a real uvicorn process, in front of the shared real llama-server.

`orchestrator` is one process shared by the tests whose settings allow it (default limits,
a client key); `start_orchestrator(**settings)` starts a dedicated one (breaker, shedding,
wrong backend key) that is stopped after the test. Every process is stopped even when a
test fails, and a failing test prints the orchestrator's log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.llama_server import LlamaServer
from harness.orchestrator import Orchestrator
from harness.ports import free_port
from tests.integration.orchestrator.support import orchestrator_env


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed


@pytest.fixture(scope="session")
def _shared_orchestrator(
    llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Orchestrator]:
    port = free_port()
    instance = Orchestrator(
        env=orchestrator_env(llama_server, port), workdir=tmp_path_factory.mktemp("cb"), port=port
    )
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def orchestrator(
    _shared_orchestrator: Orchestrator, request: pytest.FixtureRequest
) -> Iterator[Orchestrator]:
    """The shared orchestrator (default settings); its log is printed when the test fails."""
    yield _shared_orchestrator
    if _failed(request):
        print(f"--- orchestrator log ---\n{_shared_orchestrator.log_tail()}")


@pytest.fixture
def start_orchestrator(
    llama_server: LlamaServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Orchestrator]]:
    """Start a dedicated orchestrator with extra settings (stopped after the test)."""
    started: list[Orchestrator] = []

    def start(**settings: object) -> Orchestrator:
        port = free_port()
        workdir = tmp_path / f"cb-{len(started)}"
        workdir.mkdir()
        env = orchestrator_env(llama_server, port, **settings)
        instance = Orchestrator(env=env, workdir=workdir, port=port)
        started.append(instance)
        instance.start()
        return instance

    try:
        yield start
    finally:
        for instance in started:
            instance.stop()
            if _failed(request):
                print(f"--- orchestrator log ({instance.url}) ---\n{instance.log_tail()}")
