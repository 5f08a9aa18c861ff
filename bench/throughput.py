"""Item 2: streaming throughput through the orchestrator against direct, 1 and N streams.

Each round sends a batch of `concurrency` streams through the orchestrator and the same
batch directly (the first side alternating between rounds), with the same prompts at
temperature 0, so both sides decode the same tokens. Two rates per batch: the median
per-stream decode rate the client sees (tokens after the first / the time they took) and
the aggregate (all tokens / the batch's wall time).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics

from bench import client
from bench.client import Target
from bench.machine import load_average
from bench.prompts import case
from bench.stats import Summary

MAX_TOKENS = 128


async def compare(
    orchestrator: Target,
    direct: Target,
    concurrency: int,
    rounds: int,
    context_size: int,
    max_tokens: int = MAX_TOKENS,
) -> dict[str, object]:
    run = secrets.token_hex(3)
    load_before = load_average()
    rates: dict[str, list[float]] = {"orchestrator": [], "direct": []}
    aggregate: dict[str, list[float]] = {"orchestrator": [], "direct": []}
    errors: list[str] = []
    async with client.client(concurrency) as left, client.client(concurrency) as right:
        for index in range(rounds + 1):  # round 0 warms both sides up
            requests = [
                case("short", f"{run}{index:03d}{k:03d}", max_tokens, context_size)
                for k in range(concurrency)
            ]
            sides = [(left, orchestrator), (right, direct)]
            if index % 2:
                sides.reverse()
            for http, target in sides:
                bodies = [
                    r.orchestrator_body(0.0)
                    if target.shape == "orchestrator"
                    else r.direct_body(0.0)
                    for r in requests
                ]
                results = await asyncio.gather(
                    *(
                        client.stream(http, target.url, body, target.headers, target.shape)
                        for body in bodies
                    )
                )
                errors.extend(f"{target.shape}: {r.error}" for r in results if not r.ok)
                if index == 0 or not all(r.ok for r in results):
                    continue
                per_stream = [rate for r in results if (rate := r.tokens_per_second())]
                rates[target.shape].append(statistics.median(per_stream))
                wall = max(r.ended_at for r in results) - min(r.sent_at for r in results)
                aggregate[target.shape].append(sum(r.tokens for r in results) / wall)
    return {
        "concurrency": concurrency,
        "rounds": rounds,
        "max_tokens": max_tokens,
        "per_stream_tokens_per_s": {side: Summary.of(v).as_dict(2) for side, v in rates.items()},
        "aggregate_tokens_per_s": {side: Summary.of(v).as_dict(2) for side, v in aggregate.items()},
        "ratio_per_stream": _ratio(rates),
        "ratio_aggregate": _ratio(aggregate),
        "errors": errors,
        "load_before": load_before,
        "load_after": load_average(),
    }


def _ratio(rates: dict[str, list[float]]) -> float:
    """Orchestrator / direct, of the medians over the rounds."""
    return round(statistics.median(rates["orchestrator"]) / statistics.median(rates["direct"]), 4)
