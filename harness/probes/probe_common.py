"""What the probes share. Sent along with each probe by run_probe (as the module
`probe_common`), so a probe runs on a host that has only the appliance's venv."""

from __future__ import annotations


def read_env(path: str) -> dict[str, str]:
    """A KEY='value' file such as the orchestrator's .env, KEY -> value."""
    pairs = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                pairs[key] = value.strip("'")
    return pairs


def rss_kib(pid: int) -> int:
    """A process's resident set (VmRSS), KiB; 0 when it has none (or is gone)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
