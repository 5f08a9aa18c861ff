"""Deploy cost: `ansible-playbook site.yml` on fresh lab hosts, per phase, then a no-change run.

    [SUITE=bookworm] .venv/bin/python -m bench.deploy [--keep-lab] [--out FILE]

The lab's release (SUITE, trixie by default: tests/lab/README.md) is recorded with the
figures, which go to bench/results/deploy-RELEASE.json unless --out says otherwise.

Needs root (it tears the lab down and boots it again: run nothing else on the lab
meanwhile). The controller's caches stay warm (rootfs tarball, apt archives, ccache,
models), as on any second deploy from the same machine; a cold llama.cpp build is measured
separately by tools/build_llama_server.py. Each playbook runs with the ansible.posix.json
callback, and every task's wall time is put into one phase by its role and task prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.machine import describe, load_average
from bench.stats import table
from harness.paths import ROOT

BIN = Path(sys.executable).parent

# (phase, role, task-name prefixes): the first match wins; anything else is "other".
PHASES: Sequence[tuple[str, str, tuple[str, ...]]] = (
    ("base: packages, time, updates", "common", ("",)),
    ("tailscale / peer addresses", "tailscale", ("",)),
    ("llama.cpp: packages, user", "llama_cpp", ("Install |", "Preflight |")),
    ("llama.cpp: build", "llama_cpp", ("Build |",)),
    ("llama.cpp: models", "llama_cpp", ("Models |", "Model |")),
    ("llama.cpp: configure, firewall, start", "llama_cpp", ("",)),
    ("app: venv, pip install", "cerebrum", ("Install |", "Preflight |")),
    ("app: configure, start", "cerebrum", ("",)),
)


def phase_of(task_name: str) -> str:
    """'llama_cpp : Build | Compile' -> 'llama.cpp: build'."""
    role, _, rest = task_name.partition(" : ")
    for phase, phase_role, prefixes in PHASES:
        if rest and role == phase_role and rest.startswith(prefixes):
            return phase
    return "facts, other"


def run_playbook(playbook: str) -> tuple[float, dict[str, Any]]:
    """Run a playbook with the json callback: (wall seconds, its json output)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    start = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), playbook],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - start
    try:
        output = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        sys.exit(f"{playbook} printed no JSON (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    if proc.returncode != 0:
        sys.exit(f"{playbook} failed (exit {proc.returncode}); stats: {output.get('stats')}")
    return wall, output


def _seconds(duration: Mapping[str, str]) -> float:
    from datetime import datetime

    start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(duration.get("end", duration["start"]).replace("Z", "+00:00"))
    return (end - start).total_seconds()


def phases(output: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per phase: the sum of the wall times of the phase's tasks."""
    totals: dict[str, float] = {}
    for play in output["plays"]:
        for task in play["tasks"]:
            name = phase_of(task["task"]["name"])
            totals[name] = totals.get(name, 0.0) + _seconds(task["task"]["duration"])
    return totals


def changed(output: Mapping[str, Any]) -> dict[str, int]:
    return {host: stats["changed"] for host, stats in output["stats"].items()}


def summary(wall: float, output: Mapping[str, Any]) -> dict[str, Any]:
    """A run's wall time, seconds per phase, and changed tasks per host."""
    return {
        "wall_s": round(wall, 1),
        "phases_s": {name: round(seconds, 1) for name, seconds in phases(output).items()},
        "changed": changed(output),
    }


def lab_release() -> str:
    """The Debian release the lab's hosts were booted with (lab.sh records it at `up`)."""
    return (ROOT / ".lab" / "suite").read_text().strip()


def lab(command: str) -> float:
    start = time.monotonic()
    subprocess.run([str(ROOT / "tests/lab/lab.sh"), command], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deploy", description=__doc__)
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab up afterwards")
    parser.add_argument("--out", type=Path, help="default: bench/results/deploy-RELEASE.json")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench.deploy boots the lab: run it as root")

    load_before = load_average()
    print("[deploy] lab down, then up on fresh hosts ...", flush=True)
    lab("down")
    boot = lab("up")
    release = lab_release()
    print(f"[deploy] lab up on {release} in {boot:.1f} s; site.yml on fresh hosts ...", flush=True)
    first_wall, first = run_playbook("site.yml")
    print(f"[deploy] first run {first_wall:.1f} s; again, with nothing to change ...", flush=True)
    again_wall, again = run_playbook("site.yml")
    load_after = load_average()
    fresh, no_change = summary(first_wall, first), summary(again_wall, again)
    result = {
        "machine": describe(),
        "lab_release": release,
        "load_before": load_before,
        "load_after": load_after,
        "lab_boot_s": round(boot, 1),
        "first_run": fresh,
        "no_change_run": no_change,
    }
    if not args.keep_lab:
        lab("down")
    out = args.out or ROOT / f"bench/results/deploy-{release}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    order = [name for name, _, _ in PHASES] + ["facts, other"]
    rows: list[tuple[str, float, float]] = [
        (name, fresh["phases_s"].get(name, 0.0), no_change["phases_s"].get(name, 0.0))
        for name in order
    ]
    rows.append(("total (wall)", fresh["wall_s"], no_change["wall_s"]))
    print(table(("phase", "fresh hosts s", "no-change run s"), rows))
    print(f"changed: first run {fresh['changed']}, no-change run {no_change['changed']}")
    print(f"lab on {release}, boot {boot:.1f} s; load {load_before[0]:.2f} > {load_after[0]:.2f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
