"""The REPL against the real orchestrator (uvicorn) and a real llama-server, in a pty.

`llama_server` is overridden here by the same router-mode server with slot debugging on
(its /slots then shows each slot's prompt and output: what the backend really received);
the orchestrator fixtures are the ones tests/integration/orchestrator uses, on top of it.
`repl(*args)` starts the REPL in a pseudo-terminal; `launcher_dir` is a CM4-like install
(scripts/cerebrum_repl.sh, .venv, the orchestrator's .env) for the shared orchestrator.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from harness.llama_server import LlamaServer
from harness.orchestrator import CLIENT_KEY, Orchestrator
from harness.paths import ROOT
from tests.integration.orchestrator.conftest import (  # noqa: F401 (fixtures and hook, reused)
    _failed,
    _shared_orchestrator,
    orchestrator,
    pytest_runtest_makereport,
    start_orchestrator,
)
from tests.integration.repl.support import DebugSlotsLlamaServer, Terminal

LAUNCHER = ROOT / "scripts" / "cerebrum_repl.sh"
REPL_COMMAND = [sys.executable, "-m", "cerebrum.repl"]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The lab llama-server (both models, an API key) with its slots' prompts visible."""
    server = DebugSlotsLlamaServer.with_lab_models(tmp_path_factory.mktemp("llama-server-slots"))
    server.start()
    try:
        server.warm_up()
        yield server
    finally:
        server.stop()


def repl_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without CEREBRUM_* settings, a private history, a colour TERM."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CEREBRUM_")}
    env.pop("NO_COLOR", None)
    env.update(
        TERM="xterm-256color",
        PROMPT_TOOLKIT_NO_CPR="1",  # nobody answers cursor-position requests in a pty
        XDG_STATE_HOME=str(tmp_path / "state"),
        **extra,
    )
    return env


@pytest.fixture
def repl(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Terminal]]:
    """``repl(*args, command=..., key=..., **env)``: the REPL in a pty, stopped after the test.

    It gets the shared orchestrator's client key as CEREBRUM_CLIENT_KEY unless ``key`` says
    otherwise (None: no key in the environment), and ``env`` as extra variables.
    """
    started: list[Terminal] = []

    def spawn(
        *args: str, command: list[str] | None = None, key: str | None = CLIENT_KEY, **env: str
    ) -> Terminal:
        argv = [*(command or REPL_COMMAND), *args]
        if key is not None:
            env["CEREBRUM_CLIENT_KEY"] = key
        child = pexpect.spawn(
            argv[0],
            argv[1:],
            env=repl_environment(tmp_path, **env),
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(50, 220),
        )
        terminal = Terminal(child)
        started.append(terminal)
        return terminal

    try:
        yield spawn
    finally:
        for terminal in started:
            terminal.close()
            if _failed(request):
                print(f"--- REPL terminal ---\n{terminal.tail()}")


@pytest.fixture
def launcher_dir(tmp_path: Path, orchestrator: Orchestrator) -> Path:  # noqa: F811 (the fixture)
    """A CM4-like install: scripts/cerebrum_repl.sh, .venv, and the orchestrator's .env."""
    install = tmp_path / "cerebrum-pi"
    (install / "scripts").mkdir(parents=True)
    shutil.copy2(LAUNCHER, install / "scripts" / LAUNCHER.name)
    (install / ".venv").symlink_to(Path(sys.prefix))
    env_file = install / ".env"
    env_file.write_text(
        "CEREBRUM_HOST=0.0.0.0\n"
        f"CEREBRUM_PORT={orchestrator.port}\n"
        f'CEREBRUM_CLIENT_KEYS=\'["{CLIENT_KEY}", "another-key"]\'\n'
    )
    env_file.chmod(0o600)
    return install
