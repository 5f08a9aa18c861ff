"""Item 1: the time to first token the orchestrator adds, measured side by side.

Requests alternate between the orchestrator (`POST /v1/complete/stream`) and the same
backend reached directly (`POST /completion`, stream), one at a time, the first of each pair
switching sides, so that both see the same conditions. Each request has its own nonce, so
llama-server's prompt cache helps neither side; the direct request carries the very prompt
the orchestrator's pipeline assembles (checked once per size: llama-server counts the same
prompt tokens for both). Against the instant upstream (nginx) the same comparison isolates
the orchestrator's own cost: the pipeline, one proxy hop, the SSE re-encoding.
"""

from __future__ import annotations

import secrets

from bench import client
from bench.client import Target
from bench.machine import load_average
from bench.prompts import case
from bench.stats import Summary, differences

MAX_TOKENS = 16


async def compare(
    orchestrator: Target,
    direct: Target,
    size: str,
    pairs: int,
    context_size: int,
    warmup: int = 3,
    verify: bool = True,
) -> dict[str, object]:
    """`pairs` interleaved orchestrator/direct requests of prompt size `size`; in ms."""
    run = secrets.token_hex(3)
    load_before = load_average()
    through: list[float] = []
    straight: list[float] = []
    errors: list[str] = []
    prompt_tokens: dict[str, int | None] = {}
    async with client.client() as left, client.client() as right:
        if verify:
            prompt_tokens = await _prompt_tokens(orchestrator, direct, size, context_size, run)
        index = 0
        while len(through) < pairs and index < warmup + 2 * pairs:
            sides = [
                (left, orchestrator, case(size, f"{run}{index:05d}o", MAX_TOKENS, context_size)),
                (right, direct, case(size, f"{run}{index:05d}d", MAX_TOKENS, context_size)),
            ]
            if index % 2:
                sides.reverse()
            times: dict[str, float] = {}
            for http, target, request in sides:
                body = (
                    request.orchestrator_body()
                    if target.shape == "orchestrator"
                    else request.direct_body()
                )
                result = await client.stream(http, target.url, body, target.headers, target.shape)
                if result.ok and result.ttft is not None:
                    times[target.shape] = result.ttft
                else:
                    errors.append(f"{target.shape}: {result.error}")
            if index >= warmup and len(times) == 2:  # a pair with a failed side is redone
                through.append(times["orchestrator"])
                straight.append(times["direct"])
            index += 1
    orch = Summary.of(through).scaled(1000)
    base = Summary.of(straight).scaled(1000)
    return {
        "size": size,
        "pairs": len(through),
        "orchestrator_ms": orch.as_dict(),
        "direct_ms": base.as_dict(),
        "added_ms": {"p50": round(orch.p50 - base.p50, 3), "p99": round(orch.p99 - base.p99, 3)},
        "paired_added_ms": Summary.of(differences(through, straight)).scaled(1000).as_dict(),
        "prompt_tokens": prompt_tokens,
        "samples_ms": {
            "orchestrator": [round(value * 1000, 3) for value in through],
            "direct": [round(value * 1000, 3) for value in straight],
        },
        "errors": errors,
        "load_before": load_before,
        "load_after": load_average(),
    }


async def _prompt_tokens(
    orchestrator: Target, direct: Target, size: str, context_size: int, run: str
) -> dict[str, int | None]:
    """Prompt tokens llama-server counted for the same request sent both ways (must match)."""
    request = case(size, f"{run}-check", MAX_TOKENS, context_size)
    async with client.client() as http:
        answer = await http.post(
            orchestrator.url.removesuffix("/stream"),
            content=request.orchestrator_body(),
            headers={**orchestrator.headers, "Content-Type": "application/json"},
        )
        answer.raise_for_status()
        counted = await client.stream(
            http, direct.url, request.direct_body(), direct.headers, direct.shape
        )
    found = {"orchestrator": answer.json().get("prompt_tokens"), "direct": counted.prompt_tokens}
    if found["orchestrator"] != found["direct"]:
        raise RuntimeError(f"{size}: the two paths sent different prompts: {found}")
    return found
