"""Before/after on the instant upstream: two copies of ``app/``, measured in turns.

``python -m bench.ab BEFORE_APP AFTER_APP [--rounds 6] [--seconds 5] [--out FILE]``

nginx (the instant upstream, ``bench/canned.py``) runs on CPU 1 with wrk; both
orchestrators run pinned to CPU 0, only one driven at a time. For each request, ``rounds``
wrk runs of ``seconds`` alternate between the two (the first of each pair switching
sides), so a machine whose speed drifts (other jobs, a VM's neighbours) moves both sides
alike; each side's figure is the median over its runs. The CPU time per request (from
``/proc/PID/stat``) is the figure load moves least.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import peers, proxy, stack
from bench.machine import load_average
from harness.ports import free_port
from harness.service import running

CONNECTIONS = 16  # one core saturated, few requests queued (as the peers' rate runs)
KEY = "bench-key"  # the backend's (nginx ignores it)


def requests() -> dict[str, tuple[str, bytes]]:
    """The requests compared: a name -> (path, body)."""
    chat = {
        "model": stack.ALIAS,
        "messages": [{"role": "user", "content": "def fibonacci(n):"}],
        "max_tokens": 16,
    }
    return {
        "POST /v1/complete": ("/v1/complete", proxy.request_body()),
        "POST /v1/complete/stream": ("/v1/complete/stream", proxy.request_body()),
        "POST /v1/completions": ("/v1/completions", peers.body(stack.ALIAS, stream=False)),
        "POST /v1/completions stream": ("/v1/completions", peers.body(stack.ALIAS, stream=True)),
        "POST /v1/chat/completions stream": (
            "/v1/chat/completions",
            json.dumps({**chat, "stream": True}).encode(),
        ),
    }


def compare(
    apps: dict[str, Path], rounds: int, seconds: float, workdir: Path
) -> dict[str, dict[str, dict[str, Any]]]:
    (workdir / "nginx").mkdir(parents=True, exist_ok=True)
    upstream = stack.InstantUpstream(workdir=workdir / "nginx", port=free_port(), cpus="1")
    sides = {
        name: stack.orchestrator(
            workdir / name, upstream.url, KEY, 8192, cpus="0", app=app,
            max_in_flight=1024, max_queue=1024,
        )
        for name, app in apps.items()
    }  # fmt: skip
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with running(upstream, *sides.values()):
        for label, (path, body) in requests().items():
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
            names = list(sides)
            for turn in range(rounds):
                order = names if turn % 2 == 0 else names[::-1]
                for name in order:
                    side = sides[name]
                    run = proxy.wrk(
                        side.url + path, body, side.headers, CONNECTIONS, seconds, pid=side.pid
                    )
                    runs[name].append(run)
            results[label] = {name: _summary(side_runs) for name, side_runs in runs.items()}
    return results


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [float(run["cpu_us_per_request"]) for run in runs if run["cpu_us_per_request"]]
    rate = [float(run["requests_per_s"]) for run in runs]
    return {
        "cpu_us_per_request": round(statistics.median(cpu), 1) if cpu else None,
        "cpu_us_range": [min(cpu), max(cpu)] if cpu else None,
        "requests_per_s": round(statistics.median(rate), 1),
        "errors": sum(int(run["error_total"]) for run in runs),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="a copy of app/ (e.g. git archive REV app)")
    parser.add_argument("after", type=Path, help="another copy of app/ (or ./app)")
    parser.add_argument("--rounds", type=int, default=6, help="runs per side and request")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one wrk run")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    apps = {"before": args.before.resolve(), "after": args.after.resolve()}
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="cerebrum-ab-") as scratch:
        results = compare(apps, args.rounds, args.seconds, Path(scratch))
    print(f"{CONNECTIONS} connections, {args.rounds} x {args.seconds:g} s per side, in turns")
    print(f"{'request':34} {'CPU µs/req before':>18} {'after':>8} {'change':>8} "
          f"{'req/s before':>13} {'after':>8} {'errors':>7}")  # fmt: skip
    for label, sides in results.items():
        before, after = sides["before"], sides["after"]
        change = after["cpu_us_per_request"] / before["cpu_us_per_request"] - 1
        print(f"{label:34} {before['cpu_us_per_request']:>18,.0f} "
              f"{after['cpu_us_per_request']:>8,.0f} {change:>+8.1%} "
              f"{before['requests_per_s']:>13,.0f} {after['requests_per_s']:>8,.0f} "
              f"{before['errors'] + after['errors']:>7}")  # fmt: skip
    print(f"load 1m {load[0]}>{load_average()[0]}")
    if args.out:
        document = {"apps": {k: str(v) for k, v in apps.items()}, "load_before": load,
                    "load_after": load_average(), "results": results}  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
