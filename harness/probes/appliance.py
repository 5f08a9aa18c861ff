"""Run ON an orchestrator host by the appliance's own venv python (bench/appliance.py sends
it there with harness.probes.run_probe): the deployed orchestrator's idle RSS and its
request latency.

Prints one JSON object: the architecture, the service's RSS (KiB) after it sat idle, then
latencies in milliseconds, each request on a fresh connection:
  health      GET /health: the orchestrator alone (no backend involved)
  complete    POST /v1/complete, max_tokens 1: the whole path, backend included
  direct      POST <backend>/completion, n_predict 1, the same prompt: the backend alone
`complete` and `direct` alternate, so both see the same backend conditions.

    python appliance.py ORCHESTRATOR_URL ENV_FILE MAIN_PID ROUNDS BACKEND_MODEL
"""

from __future__ import annotations

import json
import platform
import sys
import time

import httpx
from probe_common import read_env, rss_kib

PROMPT = "def fibonacci(n):"


def timed(method: str, url: str, **kwargs: object) -> float:
    """Milliseconds for one request on a new connection; fails on a non-2xx answer."""
    with httpx.Client(timeout=120) as client:
        start = time.perf_counter()
        reply = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        elapsed = (time.perf_counter() - start) * 1000
    reply.raise_for_status()
    return round(elapsed, 3)


def main() -> None:
    url, env_file, pid, rounds, model = (
        sys.argv[1],
        sys.argv[2],
        *map(int, sys.argv[3:5]),
        sys.argv[5],
    )
    env = read_env(env_file)
    backend = json.loads(env["CEREBRUM_BACKENDS"])[0].rstrip("/")
    auth = {"Authorization": f"Bearer {env['CEREBRUM_API_KEY']}"}
    idle_rss = rss_kib(pid)
    health = [timed("GET", f"{url}/health") for _ in range(rounds)]
    timed("POST", f"{url}/v1/complete", json={"prompt": PROMPT, "max_tokens": 1})  # warm up
    complete, direct = [], []
    for _ in range(max(1, rounds // 4)):
        complete.append(
            timed("POST", f"{url}/v1/complete", json={"prompt": PROMPT, "max_tokens": 1})
        )
        direct.append(
            timed(
                "POST",
                f"{backend}/completion",
                headers=auth,
                json={"prompt": PROMPT, "n_predict": 1, "model": model},
            )
        )
    print(
        json.dumps(
            {
                "machine": platform.machine(),
                "python": platform.python_version(),
                "idle_rss_kib": idle_rss,
                "rss_after_kib": rss_kib(pid),
                "health_ms": health,
                "complete_ms": complete,
                "direct_ms": direct,
            }
        )
    )


if __name__ == "__main__":
    main()
