"""Does one huge answer stall everyone else? /health latency while a client streams it.

    .venv/bin/python -m bench.fairness [--app DIR] [--n-probs N] [--n-predict N] [--setting K=V]

Starts the real llama-server (lab models) and the orchestrator in front of it, then measures
GET /health on the orchestrator (one request every 20 ms): first idle, then while one client
streams ``POST /completion {"prompt": "hello", "n_probs": N, "n_predict": K, "stream": true}``
(each event carries N probabilities: N = 75,000 makes events of about 7 MB, just under the
8 MiB event bound). ``--app DIR`` runs the orchestrator from another checkout's ``app/`` (e.g.
/work/main/app, to measure before a change); ``--setting`` adds CEREBRUM_<K>=V. Prints one
JSON object: latency percentiles idle and during the stream, the stream's status, bytes and
seconds (docs/reliability.md keeps the figures with this command).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from harness.llama_server import LlamaServer
from harness.orchestrator import Orchestrator, lab_models, orchestrator_env
from harness.ports import free_port

PROBE_EVERY = 0.02


def _percentiles(samples: list[float]) -> dict[str, float | int]:
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0}
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(at(0.9) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _probe(http: httpx.Client, until: threading.Event, limit: float) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + limit
    while not until.is_set() and time.monotonic() < deadline:
        started = time.perf_counter()
        http.get("/health").raise_for_status()
        samples.append(time.perf_counter() - started)
        time.sleep(PROBE_EVERY)
    return samples


def measure(orchestrator: Orchestrator, n_probs: int, n_predict: int) -> dict[str, object]:
    body = {"prompt": "hello", "n_probs": n_probs, "n_predict": n_predict, "stream": True}
    with orchestrator.client(timeout=300) as http:
        warm = http.post("/completion", json={"prompt": "hello", "n_predict": 1})
        warm.raise_for_status()  # the model is loaded before anything is timed
        idle = _probe(http, threading.Event(), 2.0)
        done = threading.Event()
        outcome: dict[str, object] = {}

        def stream() -> None:
            started = time.perf_counter()
            received = 0
            try:
                with (
                    orchestrator.client(timeout=300) as own,
                    own.stream("POST", "/completion", json=body) as response,
                ):
                    outcome["status"] = response.status_code
                    piece = b""
                    for piece in response.iter_bytes():
                        received += len(piece)
                    outcome["last_bytes"] = piece[-300:].decode("utf-8", "replace")
            finally:
                outcome["bytes"] = received
                outcome["seconds"] = round(time.perf_counter() - started, 2)
                done.set()

        worker = threading.Thread(target=stream)
        worker.start()
        during = _probe(http, done, 300.0)
        worker.join()
    return {
        "n_probs": n_probs,
        "n_predict": n_predict,
        "health_idle": _percentiles(idle),
        "health_during_stream": _percentiles(during),
        "stream": outcome,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, help="run the orchestrator from this app/ directory")
    parser.add_argument("--n-probs", type=int, default=75_000)
    parser.add_argument("--n-predict", type=int, default=20)
    parser.add_argument("--setting", action="append", default=[], help="K=V: CEREBRUM_K=V")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.setting)
    with tempfile.TemporaryDirectory(prefix="fairness-") as scratch:
        llama = LlamaServer.with_lab_models(Path(scratch) / "llama")
        llama.start()
        try:
            port = free_port()
            env = orchestrator_env(
                llama.url, llama.api_key, port, lab_models(2048),
                default_model="gemma", **settings,
            )  # fmt: skip
            if args.app is not None:
                env["PYTHONPATH"] = os.pathsep.join(
                    [str(args.app.resolve()), env.get("PYTHONPATH", "")]
                ).rstrip(os.pathsep)
            orchestrator = Orchestrator(env=env, workdir=Path(scratch) / "cb", port=port)
            (Path(scratch) / "cb").mkdir()
            orchestrator.start()
            try:
                result = measure(orchestrator, args.n_probs, args.n_predict)
            finally:
                orchestrator.stop()
        finally:
            llama.stop()
    result["app"] = str(args.app) if args.app else "this checkout"
    result["settings"] = settings
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
