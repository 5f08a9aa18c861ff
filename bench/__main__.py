"""`python -m bench`: the orchestrator against the same llama-server reached directly, in one run.

    .venv/bin/python -m bench [--quick] [--only ttft,throughput,proxy,memory,pipeline,stress]

Sections (docs/benchmarks.md explains each figure):
  ttft        added time to first token: real llama-server, and the instant upstream (nginx)
  throughput  streaming tokens/s through the orchestrator / direct, 1 and 8 streams
  proxy       requests/s and p99 on one uvicorn worker with an instant upstream (wrk), and
              the same for LiteLLM's proxy beside it (OpenAI /v1/completions, whole and streamed)
  memory      orchestrator RSS idle and under 64 concurrent streams
  pipeline    chunk + dedup + rank + assemble on 100 KB and 1 MB; dedup 1k..20k chunks;
              ms per MB on adversarial input beside normal code
  stress      600 mixed requests (streams, completions, abandoned streams) against the real
              llama-server through the orchestrator: none may fail, every slot free after

Tables go to stdout; JSON (and PNG plots) to bench/results/ (--quick: bench/results/quick/,
not committed). Needs `make dev` (llama-server build, models), nginx-light and wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import (
    canned,
    memory,
    peers,
    pipeline,
    plot,
    proxy,
    report,
    stack,
    stress,
    throughput,
    ttft,
)
from bench.client import Target
from bench.machine import describe
from bench.prompts import SIZES
from harness.llama_build import build as build_llama_server
from harness.llama_server import LlamaServer
from harness.orchestrator import Orchestrator
from harness.ports import free_port
from harness.service import ServiceProcess, running

SECTIONS = ("ttft", "throughput", "proxy", "memory", "pipeline", "stress")
RESULTS = Path(__file__).resolve().parent / "results"
CTX_PER_SLOT = 8192  # room for the 16 KB prompt (~4.1k real tokens, ~8k estimated)
KIB = 1024
_APP_VARIABLE = "CEREBRUM_BENCH_APP"


@dataclass(frozen=True, slots=True)
class Plan:
    """How many samples each measurement takes (full run or --quick)."""

    ttft_pairs: dict[str, int]
    instant_pairs: int
    rounds: dict[int, int]  # concurrency -> rounds
    wrk_seconds: float
    streams: int
    memory_streams: int
    pipeline_runs: int
    stress_requests: int
    app: Path | None = None  # run the orchestrator from this copy of app/ (PYTHONPATH)

    @classmethod
    def make(cls, quick: bool, app: Path | None) -> Plan:
        if quick:
            return cls({"short": 20, "2KB": 6, "16KB": 2}, 50, {1: 2, 8: 1}, 3, 256, 64, 5, 30, app)
        return cls(
            {"short": 200, "2KB": 60, "16KB": 12}, 500, {1: 12, 8: 6}, 10, 256, 64, 30, 600, app
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", type=Path, help="results directory (default bench/results)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the processes' logs in this directory (default: a temp one)",
    )
    parser.add_argument(
        "--app",
        type=Path,
        help="import the orchestrator from this copy of app/ (an older commit's: before/after)",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.app and os.environ.get(_APP_VARIABLE) != str(args.app.resolve()):
        _reexec_with(args.app.resolve(), argv if argv is not None else sys.argv[1:])
    signal.signal(signal.SIGTERM, _interrupt)  # stop the servers on SIGTERM too
    out: Path = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan.make(args.quick, args.app.resolve() if args.app else None)
    command = shlex.join([".venv/bin/python", "-m", "bench", *(argv or sys.argv[1:])])
    machine = describe(
        build_llama_server() if {"ttft", "throughput", "memory"} & set(chosen) else None
    )
    print(report.machine(machine, command))
    runners: dict[str, Callable[[Path, Plan], dict[str, object]]] = {
        "ttft": run_ttft,
        "throughput": run_throughput,
        "proxy": run_proxy,
        "memory": run_memory,
        "pipeline": run_pipeline,
        "stress": run_stress,
    }
    with tempfile.TemporaryDirectory(prefix="cerebrum-bench-") as scratch:
        temp = args.workdir.resolve() if args.workdir else Path(scratch)
        for name in chosen:
            started = time.monotonic()
            data = runners[name](Path(temp) / name, plan)
            data["seconds"] = round(time.monotonic() - started, 1)
            code = str(plan.app) if plan.app else "working tree"
            document = {
                "section": name,
                "command": command,
                "machine": machine,
                "app": code,
                **data,
            }
            (out / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")
            print(report.section(name, data))
            for picture in plot.section(name, data, out):
                print(f"  plot: {picture}")
    print(f"\nresults: {out}/")
    return 0


def run_ttft(workdir: Path, plan: Plan) -> dict[str, object]:
    """Real llama-server and instant upstream, each against the orchestrator in front of it."""
    real: list[dict[str, object]] = []
    with _real_stack(workdir / "real", plan, parallel=8) as up:
        for size, pairs in plan.ttft_pairs.items():
            real.append(asyncio.run(ttft.compare(up.through, up.direct, size, pairs, CTX_PER_SLOT)))
    instant: list[dict[str, object]] = []
    with _instant_stack(workdir / "instant", plan) as up:
        for size in SIZES:
            compared = ttft.compare(
                up.through, up.direct, size, plan.instant_pairs, CTX_PER_SLOT, verify=False
            )
            instant.append(asyncio.run(compared))
    return {"real": real, "instant": instant}


def run_throughput(workdir: Path, plan: Plan) -> dict[str, object]:
    results = []
    with _real_stack(workdir, plan, parallel=8) as up:
        for concurrency, rounds in plan.rounds.items():
            compared = throughput.compare(up.through, up.direct, concurrency, rounds, CTX_PER_SLOT)
            results.append(asyncio.run(compared))
    return {"runs": results}


def run_proxy(workdir: Path, plan: Plan) -> dict[str, object]:
    with _instant_stack(workdir, plan) as up:
        compared = _peers(workdir / "litellm", up, plan)
        base, pid = up.orchestrator.url, up.orchestrator.pid
        body = proxy.request_body()
        headers = up.through.headers
        seconds = plan.wrk_seconds
        runs = {
            "nginx /completion (no orchestrator)": proxy.wrk(
                up.direct.url, body, up.direct.headers, 64, seconds
            ),
            "POST /v1/complete, 64 connections": proxy.wrk(
                base + "/v1/complete", body, headers, 64, seconds, pid=pid
            ),
            "POST /v1/complete/stream, 64 connections": proxy.wrk(
                base + "/v1/complete/stream", body, headers, 64, seconds, pid=pid
            ),
            f"POST /v1/complete/stream, {plan.streams} connections": proxy.wrk(
                base + "/v1/complete/stream", body, headers, plan.streams, seconds, pid=pid
            ),
        }
        check = asyncio.run(proxy.open_streams(up.through, plan.streams, pid))
    return {
        "peers": compared,
        "wrk": runs,
        "open_streams": check,
        "tokens_per_answer": canned.TOKENS,
    }


def _peers(workdir: Path, up: Up, plan: Plan) -> dict[str, object]:
    """The orchestrator and LiteLLM's proxy, each on CPU 0 in turn, on the same upstream."""
    workdir.mkdir(parents=True, exist_ok=True)
    litellm = peers.LiteLLMProxy(
        workdir=workdir, port=free_port(), cpus="0", upstream=up.backend.url,
        master_key="sk-" + secrets.token_urlsafe(16),
    )  # fmt: skip
    with running(litellm, timeout=300):  # its start takes ~30 s on one busy core
        sides = [
            peers.Side("orchestrator", up.orchestrator.url, up.orchestrator.headers,
                       up.orchestrator.pid, stack.ALIAS, peers.ORCHESTRATOR_ROUTES),
            peers.Side("litellm", litellm.url, litellm.headers, litellm.pid,
                       peers.STREAM_MODEL, peers.LITELLM_ROUTES),
        ]  # fmt: skip
        return peers.compare(up.backend.url, sides, plan.wrk_seconds)


def run_memory(workdir: Path, plan: Plan) -> dict[str, object]:
    streams = plan.memory_streams
    with _real_stack(workdir, plan, streams, 512) as up:
        measured = memory.measure(
            up.through, up.orchestrator.url, up.orchestrator.pid, streams, 512
        )
        return asyncio.run(measured)


def run_pipeline(workdir: Path, plan: Plan) -> dict[str, object]:
    sizes = {"100KB": 100 * KIB, "1MB": KIB * KIB}
    return {
        "sizes": {name: pipeline.measure(size, plan.pipeline_runs) for name, size in sizes.items()},
        "dedup_scaling": pipeline.dedup_scaling(),
        "adversarial": pipeline.adversarial(),
    }


def run_stress(workdir: Path, plan: Plan) -> dict[str, object]:
    with _real_stack(workdir, plan, parallel=4, ctx_per_slot=2048) as up:
        assert isinstance(up.backend, LlamaServer)
        stressed = stress.run(up.through, up.backend, stack.MODEL, plan.stress_requests, 8, 2048)
        return asyncio.run(stressed)


# --- stacks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Up:
    """A running backend (real or instant) with the orchestrator in front of it."""

    backend: ServiceProcess
    orchestrator: Orchestrator
    through: Target  # POST /v1/complete/stream on the orchestrator
    direct: Target  # POST /completion on the backend


@contextmanager
def _real_stack(
    workdir: Path, plan: Plan, parallel: int, ctx_per_slot: int = CTX_PER_SLOT
) -> Iterator[Up]:
    """llama-server (`parallel` slots) and the orchestrator in front of it, both warmed up."""
    llama = stack.llama_server(workdir / "llama", parallel, ctx_per_slot)
    orchestrator = stack.orchestrator(
        workdir / "orchestrator", llama.url, llama.api_key, ctx_per_slot, app=plan.app,
        max_in_flight=max(16, parallel), max_queue=max(16, parallel),
    )  # fmt: skip
    with running(llama, orchestrator):
        up = _up(llama, orchestrator, llama.headers)
        asyncio.run(ttft.compare(up.through, up.direct, "short", 2, ctx_per_slot, verify=False))
        yield up


@contextmanager
def _instant_stack(workdir: Path, plan: Plan) -> Iterator[Up]:
    """nginx on CPU 1, the orchestrator pinned to CPU 0 in front of it."""
    workdir.mkdir(parents=True, exist_ok=True)
    upstream = stack.InstantUpstream(workdir=workdir, port=free_port(), cpus="1")
    orchestrator = stack.orchestrator(
        workdir / "orchestrator", upstream.url, "bench-key", CTX_PER_SLOT, cpus="0", app=plan.app,
        max_in_flight=1024, max_queue=1024,
    )  # fmt: skip
    with running(upstream, orchestrator):
        yield _up(upstream, orchestrator, {"Authorization": "Bearer bench-key"})


def _up(backend: ServiceProcess, orchestrator: Orchestrator, headers: dict[str, str]) -> Up:
    return Up(
        backend,
        orchestrator,
        Target(orchestrator.url + "/v1/complete/stream", orchestrator.headers, "orchestrator"),
        Target(backend.url + "/completion", headers, "direct"),
    )


def _reexec_with(app: Path, argv: list[str]) -> None:
    """Run this command again importing `cerebrum` from `app` (the in-process pipeline section
    too, not only the orchestrator processes)."""
    path = os.pathsep.join(filter(None, [str(app), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, _APP_VARIABLE: str(app)}
    os.execve(sys.executable, [sys.executable, "-m", "bench", *argv], env)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
