"""A stress run against the real llama-server: the backend transport must lose no request.

`requests` requests, `concurrency` at a time, cycle through a full stream, a non-streaming
completion and a stream the client abandons after its first token (the orchestrator must
close the backend connection, which frees llama-server's slot). Every finished request must
have succeeded; afterwards every slot of the model must be idle again.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
from cerebrum.sse_reader import aiter_events

from bench import client
from bench.client import Target
from bench.machine import load_average
from bench.prompts import case
from harness.llama_server import LlamaServer
from harness.ports import wait_until

KINDS = ("stream", "complete", "abandon")


async def run(
    orchestrator: Target,
    llama: LlamaServer,
    model: str,
    requests: int,
    concurrency: int,
    context_size: int,
) -> dict[str, object]:
    load_before = load_average()
    run_id = secrets.token_hex(3)
    failures: list[str] = []
    counts = dict.fromkeys(KINDS, 0)
    slowest = 0.0
    gate = asyncio.Semaphore(concurrency)
    complete_url = orchestrator.url.removesuffix("/stream")
    headers = {**orchestrator.headers, "Content-Type": "application/json"}

    async def one(index: int, http: httpx.AsyncClient) -> None:
        nonlocal slowest
        kind = KINDS[index % len(KINDS)]
        body = case("short", f"{run_id}{index:05d}", 8 + index % 24, context_size)
        tagged = {**headers, "X-Request-ID": f"stress-{run_id}-{kind}-{index}"}
        async with gate:
            started = time.perf_counter()
            try:
                if kind == "complete":
                    answer = await http.post(complete_url, content=body.orchestrator_body(0.0),
                                             headers=tagged)  # fmt: skip
                    if answer.status_code != 200 or not answer.json().get("completion_tokens"):
                        failures.append(f"{kind} {index}: HTTP {answer.status_code} {answer.text}")
                elif kind == "stream":
                    result = await client.stream(
                        http, orchestrator.url, body.orchestrator_body(0.0), tagged, "orchestrator"
                    )
                    if not result.ok:
                        failures.append(f"{kind} {index}: {result.error}")
                else:
                    await _abandon(http, orchestrator.url, body.orchestrator_body(0.0), tagged,
                                   failures, index)  # fmt: skip
            except httpx.HTTPError as exc:
                failures.append(f"{kind} {index}: {type(exc).__name__}: {exc}")
            counts[kind] += 1
            slowest = max(slowest, time.perf_counter() - started)

    async with client.client(concurrency, timeout=600.0) as http:
        await asyncio.gather(*(one(index, http) for index in range(requests)))
    busy = await asyncio.to_thread(_busy_slots_after, llama, model, 10.0)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "by_kind": counts,
        "failures": failures[:20],
        "failure_total": len(failures),
        "slowest_s": round(slowest, 2),
        "busy_slots_after": busy,
        "load_before": load_before,
        "load_after": load_average(),
    }


async def _abandon(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    failures: list[str],
    index: int,
) -> None:
    """Open a stream, read up to its first token event, and hang up."""
    async with http.stream("POST", url, content=body, headers=headers) as response:
        if response.status_code != 200:
            failures.append(f"abandon {index}: HTTP {response.status_code}")
            return
        async for _ in aiter_events(response):
            return


def _busy_slots_after(llama: LlamaServer, model: str, timeout: float) -> int:
    """Slots still processing once `timeout` seconds have passed (0 when all are free)."""

    def busy() -> int:
        return sum(1 for slot in llama.slots(model) if slot.get("is_processing"))

    wait_until(lambda: busy() == 0, timeout, 0.2)
    return busy()
