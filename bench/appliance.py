"""The deployed orchestrator measured on its own host: idle RSS and request latency.

    .venv/bin/python -m bench.appliance [--inventory inventory/lab] [--rounds 200]

Runs harness/probes/appliance.py on the first host of group `cm4` with the appliance's venv
python, after the service has been idle for --settle seconds, and writes
bench/results/appliance-<machine>.json. On the lab with CM4_ARCH=arm64 that host is an
arm64 Debian under qemu-user emulation: its figures show what emulation costs, not what a
real CM4 does. Compare them with the same run on the x86_64 lab (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import testinfra

from bench.machine import describe, load_average
from bench.stats import Summary, table
from harness.paths import ROOT
from harness.ports import wait_until
from harness.probes import ProbeError, run_probe
from harness.role import defaults as role_defaults

MIB = 1024


def measure(inventory: str, rounds: int, settle: float) -> dict[str, Any]:
    host = testinfra.get_host("ansible://cm4", ansible_inventory=inventory)
    variables = {**role_defaults("cerebrum"), **host.ansible.get_variables()}
    home, service = variables["cerebrum_home"], variables["cerebrum_service_name"]
    models = variables["cerebrum_models"]
    default = variables.get("cerebrum_default_model") or models[0]["alias"]
    model = next(m["model"] for m in models if m["alias"] == default)
    url = f"http://127.0.0.1:{variables['cerebrum_port']}"
    print(f"[bench] restarting {service} on cm4, then {settle:.0f}s idle", flush=True)
    host.check_output(f"systemctl restart {service}")
    if not wait_until(lambda: host.run(f"curl -fsS {url}/health").rc == 0, 120, 1):
        raise SystemExit(f"{service} did not answer /health within 120 s")
    time.sleep(settle)
    pid = host.check_output(f"systemctl show -p MainPID --value {service}")
    print(f"[bench] {rounds} /health requests, {max(1, rounds // 4)} completion pairs", flush=True)
    load_before = load_average()
    try:
        data: dict[str, Any] = run_probe(
            host,
            f"{home}/.venv/bin/python",
            "appliance",
            url,
            f"{home}/.env",
            pid,
            str(rounds),
            model,
            timeout=1800,
        )
    except ProbeError as error:
        raise SystemExit(f"the probe failed: {error}") from None
    data.update(load_before=load_before, load_after=load_average(), settle_s=settle)
    return data


def report(data: dict[str, Any]) -> str:
    rows: list[list[object]] = []
    for key, label in (
        ("health_ms", "GET /health (orchestrator alone)"),
        ("complete_ms", "POST /v1/complete, 1 token (whole path)"),
        ("direct_ms", "POST llama-server /completion, 1 token (backend alone)"),
    ):
        s = Summary.of(data[key])
        rows.append([label, s.n, f"{s.p50:.2f}", f"{s.p90:.2f}", f"{s.p99:.2f}"])
    head = (
        f"machine {data['machine']}, python {data['python']}: idle RSS "
        f"{data['idle_rss_kib'] / MIB:.1f} MiB, after the requests "
        f"{data['rss_after_kib'] / MIB:.1f} MiB"
    )
    return head + "\n" + table(("request (ms)", "n", "p50", "p90", "p99"), rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.appliance", description=__doc__)
    parser.add_argument("--inventory", default=str(ROOT / "inventory/lab"))
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    data = measure(args.inventory, args.rounds, args.settle)
    data["controller"] = describe()
    out = args.out or ROOT / "bench/results" / f"appliance-{data['machine']}.json"
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(report(data))
    print(f"[bench] wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
