"""Usage survives a crash: the real orchestrator, killed with SIGKILL mid-load, started again
on the same database, still has every count it had written before the kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
from cerebrum.core.usage import read_rows, reading

from harness.orchestrator import CLIENT_NAME
from harness.ports import wait_until

BODY = {"prompt": "def add(a, b):", "max_tokens": 4, "model": "gemma"}


def requests_recorded(path: Path) -> int:
    try:
        with reading(path) as db:
            rows = read_rows(db, "2000-01-01", key=CLIENT_NAME, model="gemma")
    except sqlite3.Error:
        return 0
    return sum(row.requests for row in rows)


def test_counts_written_before_a_kill_9_mid_load_are_there_after_restart(
    start_orchestrator, tmp_path
):
    path = tmp_path / "state" / "usage.sqlite3"
    instance = start_orchestrator(usage_db=str(path), max_in_flight=2, max_queue=64)
    with instance.client() as http:
        for _ in range(5):
            assert http.post("/v1/complete", json=BODY).status_code == 200
    assert wait_until(lambda: requests_recorded(path) >= 5, 10), instance.log_tail()
    written = requests_recorded(path)

    stop = threading.Event()

    def load() -> None:  # keeps requests in flight while the process dies
        with instance.client(timeout=10) as http:
            while not stop.is_set():
                try:
                    http.post("/v1/complete", json=BODY)
                except httpx.TransportError:
                    return

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.kill(instance.pid, signal.SIGKILL)
    instance.process.wait()  # type: ignore[union-attr]
    stop.set()
    for thread in threads:
        thread.join(15)
    instance.process = None

    instance.start()
    assert requests_recorded(path) >= written
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    health = httpx.get(f"{instance.url}/health", timeout=5).json()
    assert health["usage"]["status"] == "ok", health
    with instance.client() as http:
        assert http.post("/v1/complete", json=BODY).status_code == 200
    assert wait_until(lambda: requests_recorded(path) > written, 10), instance.log_tail()
