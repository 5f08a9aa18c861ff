"""Item 4: the orchestrator's resident memory, idle and while N streams are open at once."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path

import httpx

from bench import client
from bench.client import Target
from bench.machine import load_average
from bench.prompts import case

SAMPLE_EVERY = 0.01


def status_kib(pid: int, field: str) -> int:
    """A `/proc/PID/status` figure in kB (VmRSS: resident now, VmHWM: the peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process (all its threads) has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


async def measure(
    orchestrator: Target, base_url: str, pid: int, streams: int, context_size: int
) -> dict[str, object]:
    """Idle RSS (after 20 /health calls), then the peak while `streams` streams run at once."""
    load_before = load_average()
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        for _ in range(20):
            (await http.get("/health")).raise_for_status()
    await asyncio.sleep(1.0)
    idle = status_kib(pid, "VmRSS")
    samples: list[tuple[float, int]] = []
    done = asyncio.Event()
    started = time.perf_counter()

    async def sample() -> None:
        while not done.is_set():
            samples.append((round(time.perf_counter() - started, 3), status_kib(pid, "VmRSS")))
            await asyncio.sleep(SAMPLE_EVERY)

    run = secrets.token_hex(3)
    bodies = [
        case("short", f"{run}{k:03d}", 64, context_size).orchestrator_body(0.0)
        for k in range(streams)
    ]
    sampler = asyncio.create_task(sample())
    async with client.client(streams) as http:
        results = await asyncio.gather(
            *(
                client.stream(http, orchestrator.url, body, orchestrator.headers, "orchestrator")
                for body in bodies
            )
        )
    done.set()
    await sampler
    await asyncio.sleep(1.0)
    return {
        "streams": streams,
        "idle_kib": idle,
        "peak_sampled_kib": max(kib for _, kib in samples),
        "hwm_kib": status_kib(pid, "VmHWM"),
        "after_kib": status_kib(pid, "VmRSS"),
        "rss_timeline": samples[:: max(1, len(samples) // 400)],
        "max_open_at_once": max_overlap([(r.sent_at, r.ended_at) for r in results]),
        "first_tokens_before_any_end": sum(
            1
            for r in results
            if r.first_at is not None and r.first_at < min(x.ended_at for x in results)
        ),
        "errors": [r.error for r in results if not r.ok],
        "load_before": load_before,
        "load_after": load_average(),
    }
