"""Probe run ON an orchestrator host by the appliance's own venv python (httpx is there).

Offers N streamed completions at once and samples the orchestrator's RSS meanwhile. Each
request is classified: `ok` (200 and an intact stream: tokens numbered 1..n, then a final
done event without error), `shed` (503 with Retry-After), or anything else with its detail.
Prints one JSON line with the outcomes and the RSS figures (KiB).

    python overload.py ORCHESTRATOR_URL CONCURRENCY MAX_TOKENS ORCHESTRATOR_PID
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
from cerebrum.sse_reader import aiter_events
from probe_common import rss_kib


async def one(client: httpx.AsyncClient, url: str, max_tokens: int) -> dict[str, Any]:
    start = time.monotonic()
    body = {"prompt": "def quicksort(items):", "max_tokens": max_tokens}
    try:
        async with client.stream("POST", f"{url}/v1/complete/stream", json=body) as response:
            answered = time.monotonic() - start
            if response.status_code == 503:
                await response.aread()
                kind = "shed" if response.headers.get("retry-after") else "503 without Retry-After"
                return {"kind": kind, "answered": answered}
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                return {"kind": f"status {response.status_code}", "detail": text[:200]}
            events = [json.loads(data) async for data in aiter_events(response)]
    except httpx.HTTPError as exc:
        return {"kind": "transport error", "detail": f"{type(exc).__name__}: {exc}"}
    tokens = [e["total_tokens"] for e in events if "token" in e]
    last = events[-1] if events else {}
    intact = (
        tokens == list(range(1, len(tokens) + 1))
        and last.get("done") is True
        and last.get("error") is None
        and last.get("total_tokens") == len(tokens)
    )
    if intact:
        return {"kind": "ok", "answered": answered, "tokens": len(tokens)}
    return {"kind": "broken stream", "detail": json.dumps(events[-3:])[:300]}


async def main() -> None:
    url, concurrency, max_tokens, pid = sys.argv[1], *map(int, sys.argv[2:5])
    rss = {"before": rss_kib(pid), "peak": 0}
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            rss["peak"] = max(rss["peak"], rss_kib(pid))
            await asyncio.sleep(0.05)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=180, limits=limits) as client:
        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        results = await asyncio.gather(*(one(client, url, max_tokens) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        done.set()
        await sampler
    rss["after"] = rss_kib(pid)
    print(json.dumps({"results": results, "elapsed": round(elapsed, 2), "rss_kib": rss}))


if __name__ == "__main__":
    asyncio.run(main())
