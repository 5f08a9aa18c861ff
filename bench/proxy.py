"""Item 3: how many requests one orchestrator worker proxies when the upstream costs nothing.

wrk (C, one thread) drives the orchestrator, pinned to CPU 0 with taskset, while nginx (the
instant upstream, `bench/canned.py`) and wrk share CPU 1, so the orchestrator has one core
to itself. A run against nginx alone shows the load generator and upstream are not the
limit. A Lua `done` hook prints wrk's own summary as JSON (latency in microseconds).
A separate check opens N streams at once with the Python client and requires every one to
end with a `done` event carrying no error.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile

import orjson

from bench import client
from bench.client import Target
from bench.machine import load_average
from bench.memory import cpu_seconds, max_overlap, status_kib
from bench.prompts import SHORT_PROMPT
from bench.stack import ALIAS

WRK_MISSING = "wrk is needed for the proxy benchmark: apt-get install -y wrk"

_SCRIPT = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
done = function(summary, latency, requests)
  io.write(string.format(
    'WRK {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
    .. '"timeout":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def request_body(max_tokens: int = 16) -> bytes:
    return orjson.dumps({"prompt": SHORT_PROMPT, "language": "python",
                         "max_tokens": max_tokens, "model": ALIAS})  # fmt: skip


def wrk(
    url: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    cpus: str | None = "1",
    pid: int | None = None,
) -> dict[str, object]:
    """One wrk run (one thread, `connections` keep-alive connections): requests/s, latency
    percentiles in ms, every error wrk counted (connect, read, write, timeout, non-2xx), and
    the CPU time process `pid` spent per request (a figure the machine's load hardly moves)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError(WRK_MISSING)
    lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_SCRIPT.format(body=json.dumps(body.decode()), headers=lines))
        script.flush()
        argv = [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                "-s", script.name, url]  # fmt: skip
        if cpus:
            argv = ["taskset", "-c", cpus, *argv]
        load_before = load_average()
        cpu_before = cpu_seconds(pid) if pid else 0.0
        output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        cpu = cpu_seconds(pid) - cpu_before if pid else None
    found = [line[4:] for line in output.splitlines() if line.startswith("WRK ")]
    if not found:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    raw = json.loads(found[-1])
    seconds_run = raw["duration_us"] / 1e6
    errors = {key: raw[key] for key in ("connect", "read", "write", "timeout", "status")}
    return {
        "connections": connections,
        "seconds": round(seconds_run, 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "latency_ms": {
            name: round(raw[f"{name}_us"] / 1000, 3) for name in ("p50", "p90", "p99", "max")
        },
        "errors": errors,
        "error_total": sum(errors.values()),
        "cpu_us_per_request": round(cpu / raw["requests"] * 1e6, 1)
        if cpu and raw["requests"]
        else None,
        "load_before": load_before,
        "load_after": load_average(),
    }


async def open_streams(target: Target, streams: int, pid: int | None = None) -> dict[str, object]:
    """`streams` streams opened at once; each must end with a done event and no error."""
    load_before = load_average()
    body = request_body()
    async with client.client(streams, timeout=60.0) as http:
        results = await asyncio.gather(
            *(client.stream(http, target.url, body, target.headers, target.shape)
              for _ in range(streams))
        )  # fmt: skip
    failures = [r.error or f"HTTP {r.status}" for r in results if not r.ok]
    return {
        "streams": streams,
        "completed": sum(1 for r in results if r.ok),
        "max_open_at_once": max_overlap([(r.sent_at, r.ended_at) for r in results]),
        "failures": failures[:10],
        "failure_total": len(failures),
        "hwm_kib": status_kib(pid, "VmHWM") if pid else None,
        "load_before": load_before,
        "load_after": load_average(),
    }
