"""`python -m bench.usage`: what recording usage costs, with the usage database off and on.

The orchestrator is pinned to CPU 0 in front of the instant upstream (nginx on CPU 1,
`bench/canned.py`), as in the proxy section of `python -m bench`; wrk (CPU 1, one thread, 64
keep-alive connections) posts to /v1/complete for `--seconds` a run. Runs alternate off, on,
off, on... (`--rounds` pairs), each with a fresh orchestrator, so a drift of the machine's
speed shows in both. "On" writes usage to a SQLite file in the run's work directory (WAL,
synchronous FULL, one writer thread); "off" has no CEREBRUM_USAGE_DB (the per-request
accounting in memory still runs: it is what /metrics shows). After an "on" run the database
must hold every request wrk made (none lost to the queue).

    .venv/bin/python -m bench.usage [--seconds 10] [--rounds 2]

Prints a table; JSON to bench/results/usage.json. Needs nginx-light and wrk.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from cerebrum.core.usage import read_rows, reading

from bench import proxy, stack
from harness.ports import free_port
from harness.service import running

RESULTS = Path(__file__).parent / "results" / "usage.json"
CONNECTIONS = 64
CTX = 2048


def one_run(workdir: Path, on: bool, seconds: float) -> dict[str, object]:
    workdir.mkdir(parents=True)
    database = workdir / "usage.sqlite3"
    upstream = stack.InstantUpstream(workdir=workdir, port=free_port(), cpus="1")
    orchestrator = stack.orchestrator(
        workdir / "orchestrator", upstream.url, "bench-key", CTX, cpus="0",
        max_in_flight=1024, max_queue=1024, usage_db=str(database) if on else None,
    )  # fmt: skip
    with running(upstream, orchestrator):
        url = orchestrator.url + "/v1/complete"
        result = proxy.wrk(
            url, proxy.request_body(), orchestrator.headers, CONNECTIONS, seconds,
            pid=orchestrator.pid,
        )  # fmt: skip
        time.sleep(1.5)  # the writer commits at least once a second
    result["usage"] = "on" if on else "off"
    if on:
        with reading(database) as db:
            result["recorded"] = sum(row.requests for row in read_rows(db, "2000-01-01"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.usage")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        for index in range(args.rounds * 2):
            on = index % 2 == 1
            runs.append(one_run(Path(tmp) / f"run-{index}", on, args.seconds))
            time.sleep(3)
    print("| usage | req/s | p50 ms | p90 ms | p99 ms | errors | CPU µs/req | recorded |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        latency = run["latency_ms"]
        assert isinstance(latency, dict)
        print(
            f"| {run['usage']} | {run['requests_per_s']:,.0f} | {latency['p50']:.1f} "
            f"| {latency['p90']:.1f} | {latency['p99']:.1f} | {run['error_total']} "
            f"| {run.get('cpu_us_per_request') or 0:,.0f} | {run.get('recorded', '-')} "
            f"of {run['requests']} |"
        )
    for mode in ("off", "on"):
        rates = [float(str(run["requests_per_s"])) for run in runs if run["usage"] == mode]
        print(f"{mode}: median {statistics.median(rates):,.0f} req/s over {len(rates)} runs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"connections": CONNECTIONS, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
