"""A local service process: readiness on /health, CPU pinning, stop; polling helpers."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.ports import free_port, wait_until
from harness.service import ServiceProcess, running

# A server whose /health answers `status` (the first argument) on the port given second.
SERVER = """
import http.server, sys
status, port = int(sys.argv[1]), int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@dataclass(kw_only=True)
class Tiny(ServiceProcess):
    status: int = 200

    name = "tiny"

    def command(self) -> list[str]:
        return [sys.executable, "-c", SERVER, str(self.status), str(self.port)]


def test_start_waits_for_health_and_stop_ends_the_process(tmp_path: Path):
    service = Tiny(workdir=tmp_path, port=free_port())
    with running(service, timeout=30):
        assert service.running
        pid = service.pid
    assert not service.running
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_service_pinned_to_a_cpu_runs_only_there(tmp_path: Path):
    service = Tiny(workdir=tmp_path, port=free_port(), cpus="0")
    with running(service, timeout=30):
        status = Path(f"/proc/{service.pid}/status").read_text()
    assert "Cpus_allowed_list:\t0\n" in status


def test_a_process_that_exits_fails_start_with_its_log(tmp_path: Path):
    @dataclass(kw_only=True)
    class Failing(ServiceProcess):
        name = "failing"

        def command(self) -> list[str]:
            return [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"]

    service = Failing(workdir=tmp_path, port=free_port())
    with pytest.raises(RuntimeError, match=r"exited:\n.*bad config"):
        service.start(timeout=30)


def test_wait_until_returns_the_first_truthy_result():
    answers = iter([0, None, "ready", "later"])
    assert wait_until(lambda: next(answers), timeout=30, interval=0) == "ready"


def test_wait_until_gives_the_last_answer_when_time_runs_out():
    calls: list[int] = []

    def never() -> int:
        calls.append(1)
        return 0

    assert wait_until(never, timeout=0, interval=0) == 0
    assert calls == [1]  # asked once more at the deadline
