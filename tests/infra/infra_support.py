"""Helpers shared by the host tests: HTTP from a host, processes, ports, unit checks."""

from __future__ import annotations

import ipaddress
import json
import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Runs on a host with nothing but python3: one HTTP request, the outcome as JSON.
_HTTP_SCRIPT = r"""
import json, sys, time, urllib.error, urllib.request
method, url, key, body, timeout = sys.argv[1:6]
headers = {"Content-Type": "application/json"}
if key:
    headers["Authorization"] = "Bearer " + key
data = body.encode() if body else None
req = urllib.request.Request(url, data=data, headers=headers, method=method)
start = time.monotonic()
try:
    with urllib.request.urlopen(req, timeout=float(timeout)) as resp:
        out = {"status": resp.status, "headers": dict(resp.headers),
               "body": resp.read().decode(errors="replace")}
except urllib.error.HTTPError as err:
    out = {"status": err.code, "headers": dict(err.headers),
           "body": err.read().decode(errors="replace")}
except Exception as err:
    out = {"status": None, "headers": {}, "body": f"{type(err).__name__}: {err}"}
out["elapsed"] = time.monotonic() - start
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Reply:
    status: int | None
    body: str
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    elapsed: float = 0.0  # seconds, measured on the host that made the request

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    host: Any, method: str, url: str, *, key: str = "", body: Any = None, timeout: float = 60
) -> Reply:
    """One HTTP request made FROM `host` (a testinfra host) with its python3."""
    payload = json.dumps(body) if body is not None else ""
    cmd = host.run(
        "python3 -c %s %s %s %s %s %s",
        _HTTP_SCRIPT,
        method,
        url,
        key,
        payload,
        str(timeout),
    )
    assert cmd.rc == 0, f"python3 on {host.backend.get_pytest_id()} failed: {cmd.stderr}"
    data = json.loads(cmd.stdout)
    headers = {name.lower(): value for name, value in data["headers"].items()}
    return Reply(data["status"], data["body"], headers, data["elapsed"])


def controller_source_address(target: str) -> str | None:
    """The address this machine would use to reach `target` (ip route get)."""
    try:
        out = subprocess.run(
            ["ip", "-j", "route", "get", target], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    routes = json.loads(out.stdout or "[]")
    return routes[0].get("prefsrc") if routes else None


def address_allowed(address: str, allowed: list[str]) -> bool:
    ip = ipaddress.ip_address(address)
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


# Lists a process and all its descendants (no procps needed): pid, uid, cmdline.
_PROCS_SCRIPT = r"""
import json, os, sys
parent = {}
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
tree, todo = [], [int(sys.argv[1])]
while todo:
    pid = todo.pop()
    tree.append(pid)
    todo.extend(child for child, ppid in parent.items() if ppid == pid)
procs = []
for pid in tree:
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
        with open(f"/proc/{pid}/cmdline", "rb") as cmd:
            raw = cmd.read().split(b"\0")
    except FileNotFoundError:
        continue
    args = [a.decode(errors="replace") for a in raw if a]
    procs.append({"pid": pid, "uid": uid, "args": args})
print(json.dumps(procs))
"""


def service_processes(host: Any, main_pid: int) -> list[dict[str, Any]]:
    """The service's main process and its descendants: [{pid, uid, args}]."""
    assert main_pid > 0, "the service has no main process"
    cmd = host.run("python3 -c %s %s", _PROCS_SCRIPT, str(main_pid))
    assert cmd.rc == 0, f"listing the processes of {main_pid} failed: {cmd.stderr}"
    return json.loads(cmd.stdout)


def listening_ports(host: Any, pids: list[int]) -> list[int]:
    """TCP ports that the given processes listen on (ss -ltnp)."""
    out = host.check_output("ss -ltnpH")
    ports = []
    for line in out.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            ports.append(int(line.split()[3].rsplit(":", 1)[1]))
    return ports


# The hardening every Cerebrum unit has (roles/_common/templates/hardened.service.j2), as
# systemctl shows it.
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
}


def exposure(host: Any, service: str) -> tuple[float, str]:
    """`systemd-analyze security` of a unit: (score, its whole output)."""
    out = host.run(f"systemd-analyze security --no-pager {service}.service")
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", out.stdout)
    assert match, out.stdout + out.stderr
    return float(match.group(1)), out.stdout


def ssh_argv(host: Any) -> list[str]:
    """An ssh command line to `host` from its inventory (address, user, key, port)."""
    inventory = host.ansible.get_variables()
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=5"]  # fmt: skip
    if inventory.get("ansible_ssh_private_key_file"):
        argv += ["-i", str(inventory["ansible_ssh_private_key_file"])]
    if inventory.get("ansible_port"):
        argv += ["-p", str(inventory["ansible_port"])]
    address = str(inventory.get("ansible_host", inventory["inventory_hostname"]))
    user = inventory.get("ansible_user")
    return [*argv, f"{user}@{address}" if user else address]


class RemoteLines:
    """A command running on a host over ssh; its stdout lines arrive stamped with this
    machine's monotonic clock, so that latencies are measured on one clock."""

    def __init__(self, host: Any, command: str) -> None:
        self.proc = subprocess.Popen(
            [*ssh_argv(host), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put((time.monotonic(), line.rstrip("\n")))
        self._lines.put((time.monotonic(), None))

    def next_line(self, timeout: float) -> tuple[float, str | None]:
        """(arrival time, line); line None at the end of the output. TimeoutError if none."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no output within {timeout}s") from None

    def wait_for(self, predicate: Any, timeout: float) -> tuple[float, str]:
        """The first line for which predicate(line) is true."""
        deadline = time.monotonic() + timeout
        while True:
            arrived, line = self.next_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise EOFError(f"the command ended first: {self.stderr()}")
            if predicate(line):
                return arrived, line

    def send(self, text: str) -> float:
        """Write to the command's stdin; returns the time just before the write."""
        assert self.proc.stdin is not None
        sent = time.monotonic()
        self.proc.stdin.write(text)
        self.proc.stdin.flush()
        return sent

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
