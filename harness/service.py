"""A local server process for the tests, the benchmarks and `make run`.

Started with its log in a work directory (optionally pinned to CPUs with taskset), ready
when ``GET /health`` (or its `health_path`) answers 200, stopped with SIGTERM (then
SIGKILL); `running()` starts several and stops all of them however the block ends.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.ports import wait_until


@dataclass(kw_only=True)
class ServiceProcess:
    """Subclasses name the process (`name`) and say how to run it (`command`, `environment`)."""

    workdir: Path
    port: int
    cpus: str | None = None  # taskset's CPU list (e.g. "0"), or any CPU
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    name = "service"
    health_path = "/health"  # answers 200 once the service is ready

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        """Start (a no-op when running) and wait until `health_path` answers 200."""
        if self.running:
            return
        argv = self.command()
        if self.cpus:
            argv = ["taskset", "-c", self.cpus, *argv]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=self.workdir, env=self.environment(),
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if not wait_until(self._healthy, timeout):
            raise RuntimeError(f"{self.name} not healthy after {timeout}s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        try:
            return httpx.get(self.url + self.health_path, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"


@contextmanager
def running(*services: ServiceProcess, timeout: float = 120.0) -> Iterator[None]:
    """Start the services in order; stop all of them (in reverse) however the block ends."""
    with ExitStack() as stack:
        for service in services:
            stack.callback(service.stop)
            service.start(timeout=timeout)
        yield
