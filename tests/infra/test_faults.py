"""Faults on the deployed appliance: the orchestrator (every host of group `cm4`) and its
backends are broken on purpose, one way per test, and each test checks that clients get a
prompt, clear answer, that nothing is lost or left broken, and that the appliance heals
by itself. Every test leaves the appliance healthy (the `healed` fixture checks it).

These tests kill services, drop traffic and reboot hosts: they are marked `faults` and run
in the lab's molecule scenario; `make verify` against your own hosts leaves them out.
Figures they print (`-s` or the verbose log) are collected in docs/reliability.md.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from conftest import host_name, peer_address, role_var
from infra_support import RemoteLines, Reply, http, ssh_argv

from harness import probes
from harness.ports import wait_until as poll
from tests.seed_examples import sse_data

testinfra_hosts = ["ansible://cm4"]
pytestmark = pytest.mark.faults

PROMPT = "def fibonacci(n):"
# A table of the lab's own on each backend: drops the orchestrator's packets to :PORT.
FAULT_TABLE = "inet cerebrum_fault"
T = TypeVar("T")


@dataclass(frozen=True)
class Expected:
    service: str
    home: str
    port: int
    backend_model: str  # the default alias's model id on the backends
    max_in_flight: int
    max_queue: int
    breaker_failures: int
    breaker_cooldown: float


@pytest.fixture(scope="module")
def expected(host: Any) -> Expected:
    def var(name: str) -> Any:
        return role_var(host, "cerebrum", name)

    models = var("cerebrum_models")
    default = var("cerebrum_default_model") or models[0]["alias"]
    settings = var("cerebrum_settings")
    return Expected(
        service=var("cerebrum_service_name"),
        home=var("cerebrum_home"),
        port=int(var("cerebrum_port")),
        backend_model=next(m["model"] for m in models if m["alias"] == default),
        max_in_flight=int(var("cerebrum_max_in_flight")),
        max_queue=int(var("cerebrum_max_queue")),
        breaker_failures=int(settings.get("breaker_failures", 3)),
        breaker_cooldown=float(settings.get("breaker_cooldown", 10.0)),
    )


@pytest.fixture(scope="module")
def secrets(settings: dict[str, str]) -> list[str]:
    """The values that must never appear in a body, a log or a command line."""
    values = [settings["CEREBRUM_API_KEY"]]
    keys = settings.get("CEREBRUM_CLIENT_KEYS", "")
    values += json.loads(keys) if keys.startswith("[") else []
    return [v for v in values if v]


def wait_until(what: str, check: Callable[[], T | None], timeout: float, every: float = 1) -> T:
    """Call `check` until it returns something truthy; fail naming `what` after `timeout`."""
    result = poll(check, timeout, every)
    if not result:
        pytest.fail(f"{what}: not within {timeout:.0f}s")
    return result


def service_name(backend: Any) -> str:
    return str(role_var(backend, "llama_cpp", "llama_cpp_service_name"))


def backend_url(backend: Any) -> str:
    return f"http://{peer_address(backend)}:{role_var(backend, 'llama_cpp', 'llama_cpp_port')}"


def unit_props(host: Any, service: str, *names: str) -> dict[str, str]:
    out = host.check_output(
        f"systemctl show {shlex.quote(service)} " + " ".join(f"-p {n}" for n in names)
    )
    return dict(line.split("=", 1) for line in out.splitlines())


def complete(host: Any, base_url: str, timeout: float = 180) -> Reply:
    body = {"prompt": PROMPT, "max_tokens": 4}
    return http(host, "POST", f"{base_url}/v1/complete", body=body, timeout=timeout)


def assert_no_secret(secrets: list[str], *texts: str) -> None:
    for text in texts:
        assert not any(secret in text for secret in secrets), "a key appears in a response"


def appliance_ok(host: Any, base_url: str, backends: list[Any]) -> bool:
    """Every backend reachable with its circuit closed, and a completion served."""
    reply = http(host, "GET", f"{base_url}/v1/vps/health", timeout=30)
    if reply.status != 200:
        return False
    infos = reply.json()["backends"]
    closed = all(b["status"] == "ok" and b["circuit"] == "closed" for b in infos)
    if len(infos) == len(backends) and closed:
        return True
    complete(host, base_url, timeout=60)  # a request lets a half-open circuit's probe through
    return False


@pytest.fixture
def healed(host: Any, base_url: str, backends: list[Any]) -> Iterator[None]:
    """Before and after each test: the appliance is whole again (with no operator help)."""
    wait_until(
        "the appliance is healthy before the test",
        lambda: appliance_ok(host, base_url, backends),
        timeout=180,
        every=2,
    )
    yield
    for backend in backends:  # whatever a failed test left behind
        backend.run(f"nft delete table {FAULT_TABLE}")
        backend.run(f"systemctl start {shlex.quote(service_name(backend))}")
    wait_until(
        "the appliance heals after the test",
        lambda: appliance_ok(host, base_url, backends),
        timeout=180,
        every=2,
    )


def run_probe(host: Any, expected: Expected, name: str, *args: str) -> Any:
    """Run harness/probes/NAME.py on `host` with the appliance's venv python."""
    return probes.run_probe(host, f"{expected.home}/.venv/bin/python", name, *args)


@pytest.mark.usefixtures("healed")
def test_backend_killed_mid_stream_ends_the_stream_at_once(
    host: Any, expected: Expected, base_url: str, backends: list[Any], secrets: list[str]
) -> None:
    """kill -9 of llama-server while it streams: a final error event within 1 s, then
    systemd restarts it and the next request succeeds with the orchestrator untouched."""
    orchestrator = unit_props(host, expected.service, "MainPID", "NRestarts")
    before = {
        host_name(b): unit_props(b, service_name(b), "MainPID", "NRestarts") for b in backends
    }
    # One ssh per backend, connected and waiting: a newline kills its llama-server.
    killers = [
        RemoteLines(
            b, f"echo ready; read _; kill -9 {before[host_name(b)]['MainPID']}; echo killed"
        )
        for b in backends
    ]
    body = json.dumps({"prompt": "Once upon a time,", "max_tokens": 1024})
    stream = RemoteLines(
        host,
        (
            "curl -sSN --max-time 120 -H 'Content-Type: application/json' -d "
            f"{shlex.quote(body)} {base_url}/v1/complete/stream"
        ),
    )
    try:
        for killer in killers:
            killer.wait_for(lambda line: line == "ready", timeout=30)
        stream.wait_for(lambda line: '"token"' in line, timeout=120)
        sent = min(killer.send("\n") for killer in killers)
        arrived, last = stream.wait_for(lambda line: '"done"' in line, timeout=30)
        for killer in killers:
            killer.wait_for(lambda line: line == "killed", timeout=10)
    finally:
        for remote in (*killers, stream):
            remote.close()
    final = sse_data(last + "\n\n")[0]
    latency = arrived - sent
    print(
        f"kill -9 of llama-server mid-stream: final event {latency * 1000:.0f} ms after the "
        f"kill was sent: {final}"
    )
    assert final.get("error"), f"the stream ended without an error: {final}"
    assert latency <= 1.0, f"the error event came {latency:.2f}s after the kill"
    assert_no_secret(secrets, last)

    for backend in backends:
        name = host_name(backend)

        def restarted(backend: Any = backend, name: str = name) -> bool:
            now = unit_props(backend, service_name(backend), "MainPID", "NRestarts", "ActiveState")
            return (
                now["ActiveState"] == "active"
                and now["MainPID"] not in ("0", before[name]["MainPID"])
                and int(now["NRestarts"]) > int(before[name]["NRestarts"])
            )

        wait_until(f"systemd restarts llama-server on {name}", restarted, timeout=60)
    reply = wait_until(
        "a completion after the backends restarted",
        lambda: (r := complete(host, base_url)).status == 200 and r,
        timeout=120,
        every=2,
    )
    assert reply.json()["completion"] is not None
    assert unit_props(host, expected.service, "MainPID", "NRestarts") == orchestrator, (
        "the orchestrator was restarted"
    )


@pytest.mark.usefixtures("healed")
def test_client_hang_up_frees_the_backend_slot(
    host: Any, expected: Expected, base_url: str
) -> None:
    """A client that disconnects mid-generation: the llama-server slot is free within 1 s."""
    env_file = f"{expected.home}/.env"
    outcome = run_probe(host, expected, "disconnect", base_url, env_file, expected.backend_model)
    print(f"client hang-up: {outcome}")
    assert outcome["busy_before"] >= 1, f"no backend slot was busy with the stream: {outcome}"
    assert outcome["freed_after"] is not None, f"a slot was still busy after 10 s: {outcome}"
    assert outcome["freed_after"] <= 1.0, f"the slot was freed after {outcome['freed_after']}s"


@pytest.mark.usefixtures("healed")
def test_unreachable_backends_open_the_circuit_and_it_closes_by_itself(
    host: Any, expected: Expected, base_url: str, backends: list[Any], secrets: list[str]
) -> None:
    """Every VPS unreachable (its packets dropped): the circuits open after the configured
    failures, requests then fail fast with 503 + Retry-After, health and stats show it, and
    once the VPSes answer again the circuits close with no operator action."""
    for backend in backends:
        port = role_var(backend, "llama_cpp", "llama_cpp_port")
        backend.check_output(
            f"nft add table {FAULT_TABLE} && nft add chain {FAULT_TABLE} input "
            "'{ type filter hook input priority -10; policy accept; }' && "
            f"nft add rule {FAULT_TABLE} input tcp dport {port} drop"
        )
    replies = []
    try:
        # Each failed attempt counts against one backend; a request makes up to 1 + retries.
        # Until every circuit is open (or twice the requests that should take).
        for _ in range(2 * expected.breaker_failures * len(backends)):
            replies.append(complete(host, base_url, timeout=120))
            states = http(host, "GET", f"{base_url}/v1/stats", timeout=30).json()["circuits"]
            if {c["state"] for c in states.values()} == {"open"}:
                break
        fast = complete(host, base_url, timeout=30)
        health = http(host, "GET", f"{base_url}/v1/vps/health", timeout=30)
        stats = http(host, "GET", f"{base_url}/v1/stats", timeout=30)
    finally:
        for backend in backends:
            backend.run(f"nft delete table {FAULT_TABLE}")
    healed_at = time.monotonic()
    print(
        "backends unreachable: "
        + ", ".join(f"{r.status} in {r.elapsed:.2f}s" for r in replies)
        + f"; then {fast.status} in {fast.elapsed * 1000:.0f} ms, Retry-After "
        f"{fast.headers.get('retry-after')}"
    )
    assert {r.status for r in replies} == {503}, replies
    assert fast.status == 503, fast
    assert int(fast.headers["retry-after"]) >= 1, fast.headers
    assert fast.elapsed < 0.5, f"an open circuit took {fast.elapsed:.2f}s to refuse"
    assert len(replies) <= expected.breaker_failures * len(backends), (
        f"the circuits opened only after {len(replies)} requests"
    )
    assert health.status == 503, health
    assert {b["circuit"] for b in health.json()["backends"]} == {"open"}, health.body
    assert not any(b["reachable"] for b in health.json()["backends"]), health.body
    circuits = stats.json()["circuits"]
    assert {c["state"] for c in circuits.values()} == {"open"}, circuits
    assert_no_secret(secrets, *(r.body for r in [*replies, fast, health, stats]))

    def closed() -> bool:
        reply = complete(host, base_url, timeout=60)
        health = http(host, "GET", f"{base_url}/v1/vps/health", timeout=30).json()
        return reply.status == 200 and {b["circuit"] for b in health["backends"]} == {"closed"}

    wait_until(
        "the circuits close once the VPSes answer",
        closed,
        timeout=expected.breaker_cooldown * 3 + 60,
        every=2,
    )
    print(f"circuits closed {time.monotonic() - healed_at:.1f}s after the traffic was let through")


@pytest.mark.usefixtures("healed")
def test_overload_sheds_the_excess_and_serves_the_rest_intact(
    host: Any, expected: Expected, base_url: str
) -> None:
    """Four times the configured capacity (in flight + queue) of concurrent streams."""
    capacity = expected.max_in_flight + expected.max_queue
    offered = 4 * capacity
    pid = unit_props(host, expected.service, "MainPID")["MainPID"]
    outcome = run_probe(host, expected, "overload", base_url, str(offered), "8", pid)
    results = outcome["results"]
    kinds = Counter(r["kind"] for r in results)
    rss = {k: round(v / 1024, 1) for k, v in outcome["rss_kib"].items()}
    quick_sheds = [r for r in results if r["kind"] == "shed" and r["answered"] < 1.0]
    print(
        f"overload: {offered} streams offered at once (capacity {capacity}): {dict(kinds)} "
        f"in {outcome['elapsed']}s; {len(quick_sheds)} shed within 1 s; RSS MiB {rss}"
    )
    assert set(kinds) <= {"ok", "shed"}, [r for r in results if r["kind"] not in ("ok", "shed")]
    assert kinds["ok"] >= expected.max_in_flight, kinds
    assert len(quick_sheds) >= offered - capacity, kinds
    assert rss["peak"] < 256, f"the orchestrator's RSS reached {rss['peak']} MiB"
    assert complete(host, base_url).status == 200, "not serving normally after the overload"


@pytest.mark.parametrize("group", ["vps", "cm4"])
@pytest.mark.usefixtures("healed")
def test_reboot_brings_the_service_back_on_its_own(
    host: Any, expected: Expected, base_url: str, backends: list[Any], group: str
) -> None:
    """`systemctl reboot` of a backend host, then of the orchestrator host: the services come
    back enabled and active, and completions flow again without anyone touching anything."""
    target = backends[0] if group == "vps" else host
    service = service_name(target) if group == "vps" else expected.service
    boot_id = target.check_output("cat /proc/sys/kernel/random/boot_id")
    target.run("systemd-run --on-active=1 systemctl reboot")
    rebooted_at = time.monotonic()

    def booted() -> bool:
        probe = subprocess.run(
            [*ssh_argv(target), "cat /proc/sys/kernel/random/boot_id; systemctl is-system-running"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        lines = probe.stdout.split()
        return len(lines) == 2 and lines[0] != boot_id and lines[1] in ("running", "degraded")

    wait_until(f"{host_name(target)} is back after its reboot", booted, timeout=180, every=2)
    back = time.monotonic() - rebooted_at
    props = unit_props(target, service, "ActiveState", "UnitFileState")
    assert props == {"ActiveState": "active", "UnitFileState": "enabled"}, props
    if group == "vps" and role_var(target, "llama_cpp", "llama_cpp_firewall_enabled"):
        confined = target.run("nft list table inet llama_cpp")
        assert confined.rc == 0, f"the port is no longer confined after the reboot: {confined}"
    wait_until(
        "a completion after the reboot",
        lambda: complete(host, base_url, timeout=60).status == 200,
        timeout=180,
        every=2,
    )
    print(
        f"reboot of {host_name(target)}: up after {back:.1f}s, serving again after "
        f"{time.monotonic() - rebooted_at:.1f}s"
    )


@pytest.mark.usefixtures("healed")
def test_invalid_setting_stops_the_service_with_one_clear_line(
    host: Any, expected: Expected, base_url: str, secrets: list[str]
) -> None:
    """A bad value in .env: the orchestrator refuses to start, and its journal says why in
    one line naming the setting (and never a key); with the file mended it starts again."""
    env = f"{expected.home}/.env"
    saved = f"{env}.faults-saved"
    host.check_output(f"cp -p {env} {saved}")
    try:
        host.check_output(f"sed -i \"s/^CEREBRUM_PORT=.*/CEREBRUM_PORT='not-a-port'/\" {env}")
        host.run(f"systemctl restart {expected.service}")

        def refused() -> dict[str, str] | None:
            props = unit_props(host, expected.service, "ActiveState", "Result", "InvocationID")
            return props if props["ActiveState"] in ("failed", "inactive") else None

        props = wait_until("the orchestrator gives up on the bad setting", refused, timeout=60)
        # The refused start's own lines (not the shutdown lines of the one it replaced).
        entries = [
            json.loads(line)
            for line in host.check_output(
                f"journalctl _SYSTEMD_INVOCATION_ID={props['InvocationID']} -o json --no-pager"
            ).splitlines()
        ]
    finally:
        host.check_output(f"mv {saved} {env}")
        host.run(f"systemctl reset-failed {expected.service}")
        host.check_output(f"systemctl restart {expected.service}")
    own = [
        e["MESSAGE"]
        for e in entries
        if e.get("_PID") != "1" and e.get("SYSLOG_IDENTIFIER") != "systemd"
    ]
    print(f"invalid setting: unit {props}; the service's own journal lines: {own}")
    assert props["Result"] == "exit-code", props
    assert len(own) == 1, own
    assert "CEREBRUM_PORT" in own[0], own
    assert_no_secret(secrets, *own)
    wait_until(
        "the orchestrator serves again with the mended .env",
        lambda: http(host, "GET", f"{base_url}/health").status == 200,
        timeout=60,
    )


def test_no_secret_in_any_journal_or_command_line_after_the_faults(
    host: Any, backends: list[Any], secrets: list[str]
) -> None:
    """Last, after every fault above: no key in the whole journal (every unit, every boot)
    or any process's command line, on the orchestrator's host and on each backend."""
    for machine in [host, *backends]:
        journal = machine.check_output("journalctl --no-pager -o cat -q")
        commands = machine.check_output("ps -eo args")
        assert not any(s in journal for s in secrets), f"a key is in {host_name(machine)}'s journal"
        assert not any(s in commands for s in secrets), (
            f"a key is on a command line on {host_name(machine)}"
        )
        print(f"{host_name(machine)}: {len(journal.splitlines())} journal lines, no key in them")
