"""What the figures were measured on: the machine, the versions, the load while measuring."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

from cerebrum import __version__

from harness.paths import ROOT


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, as `uptime` shows them."""
    return [round(value, 2) for value in os.getloadavg()]


def describe(llama_server: Path | None = None) -> dict[str, object]:
    """CPU, cores, memory, OS, Python, the commit, and the versions of the servers used."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_mem_total_kib() / 2**20, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cerebrum": __version__,
        "commit": _command(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "llama_server": _command([str(llama_server), "--version"]) if llama_server else None,
        "nginx": _command(["nginx", "-v"]),
        "wrk": _command(["wrk", "--version"]).split(" [")[0],
        "load_average": load_average(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _command(argv: list[str]) -> str:
    """The first line of the command's output (stdout, then stderr); "" when it fails."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0] if lines else ""
