"""Every host of group `cm4` as roles/cerebrum leaves it, and the appliance end to end
through it: real completions from the backends' llama-server. One fact per test.
(conftest.py: how to run them against any inventory.)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import host_name, peer_address, role_var
from infra_support import http, service_processes

from tests.seed_examples import check_seed_outputs, seed_curl_commands, sse_data

testinfra_hosts = ["ansible://cm4"]

PROMPT = "def fibonacci(n):"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "editors"
READ_CODE = Path(__file__).with_name("read_code.py")


@dataclass(frozen=True)
class Expected:
    """What the inventory says the orchestrator host should look like."""

    service: str
    user: str
    home: str
    port: int
    aliases: dict[str, str]  # alias -> backend model id
    fim_aliases: tuple[str, ...]  # the models of format fim (they serve /infill)


@pytest.fixture(scope="module")
def expected(host: Any) -> Expected:
    def var(name: str) -> Any:
        return role_var(host, "cerebrum", name)

    return Expected(
        service=var("cerebrum_service_name"),
        user=var("cerebrum_user"),
        home=var("cerebrum_home"),
        port=int(var("cerebrum_port")),
        aliases={m["alias"]: m["model"] for m in var("cerebrum_models")},
        fim_aliases=tuple(m["alias"] for m in var("cerebrum_models") if m.get("format") == "fim"),
    )


def complete(host: Any, base_url: str, **body: Any) -> Any:
    reply = http(
        host, "POST", f"{base_url}/v1/complete", body={"max_tokens": 8, **body}, timeout=180
    )
    assert reply.status == 200, reply
    return reply.json()


def backend_key(backend: Any) -> str:
    service = role_var(backend, "llama_cpp", "llama_cpp_service_name")
    content = backend.file(f"/etc/{service}/{service}.env").content_string
    value = next(line for line in content.splitlines() if line.startswith("LLAMA_API_KEY="))
    return value.split("=", 1)[1].strip("'")


# Debian's architecture names (CM4_ARCH, as lab.sh takes it) -> the kernel's (`uname -m`).
MACHINE = {"arm64": "aarch64", "amd64": "x86_64"}


def test_host_has_the_architecture_the_lab_was_asked_for(host: Any) -> None:
    """With CM4_ARCH set (molecule's arm64 scenario): the orchestrator really runs on it,
    its venv's Python included (an x86_64 binary would run here without emulation)."""
    wanted = os.environ.get("CM4_ARCH")
    if not wanted:
        pytest.skip("CM4_ARCH is not set: any architecture will do")
    machine = host.check_output("uname -m")
    python = host.check_output(
        f"{role_var(host, 'cerebrum', 'cerebrum_home')}/.venv/bin/python -c "
        "'import platform; print(platform.machine())'"
    )
    print(f"CM4_ARCH={wanted}: uname -m {machine}, the venv's python {python}")
    assert machine == python == MACHINE[wanted]


def test_the_hosts_python_reads_code_as_the_development_python_does(host: Any) -> None:
    """The prompt pipeline's regular expressions on the venv's Python there give what they
    give here (Debian 12's Python 3.11.2 matched possessive groups wrongly and lost the
    module at the cursor: tests/unit/retrieval/test_patterns.py)."""
    script = READ_CODE.read_text()
    python = f"{role_var(host, 'cerebrum', 'cerebrum_home')}/.venv/bin/python"
    there = host.check_output(f"{python} -B -c {shlex.quote(script)}")
    here = subprocess.run(
        [sys.executable, "-B", "-c", script], capture_output=True, text=True, check=True
    ).stdout
    print(host.check_output(f"{python} -V"), there)
    assert json.loads(there) == json.loads(here)


def test_service_runs_as_dedicated_user(
    host: Any, expected: Expected, unit: dict[str, str]
) -> None:
    user = host.user(expected.user)
    assert user.exists
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    procs = service_processes(host, int(unit["MainPID"]))
    assert procs
    assert all(p["uid"] == user.uid for p in procs), procs


def test_port_is_listening(host: Any, expected: Expected, journal: Any) -> None:
    assert (
        host.socket(f"tcp://0.0.0.0:{expected.port}").is_listening
        or host.socket(f"tcp://127.0.0.1:{expected.port}").is_listening
    ), f"nothing listens on :{expected.port}\n{journal()}"


def test_env_file_is_private_to_the_service(host: Any, expected: Expected) -> None:
    env = host.file(f"{expected.home}/.env")
    assert env.is_file
    assert env.user == expected.user
    assert env.mode == 0o600, oct(env.mode)


def test_env_key_matches_every_backend(backends: list[Any], settings: dict[str, str]) -> None:
    assert backends, "the inventory has no vps host"
    for backend in backends:
        key_file = backend.file(
            "/etc/{0}/{0}.env".format(role_var(backend, "llama_cpp", "llama_cpp_service_name"))
        )
        assert key_file.mode == 0o600, f"{host_name(backend)}: {oct(key_file.mode)}"
        # (compared, never printed)
        assert backend_key(backend).split(",")[0] == settings["CEREBRUM_API_KEY"], (
            f"the key in .env differs from {host_name(backend)}'s"
        )


def test_env_lists_every_backend(backends: list[Any], settings: dict[str, str]) -> None:
    listed = json.loads(settings["CEREBRUM_BACKENDS"])
    wanted = [
        f"http://{peer_address(b)}:{role_var(b, 'llama_cpp', 'llama_cpp_port')}" for b in backends
    ]
    assert sorted(listed) == sorted(wanted)


def test_env_gives_each_backend_the_slots_it_runs(
    backends: list[Any], settings: dict[str, str]
) -> None:
    """A document per slot: the orchestrator places on as many slots as llama-server has."""
    slots = [int(role_var(b, "llama_cpp", "llama_cpp_parallel")) for b in backends]
    assert int(settings["CEREBRUM_BACKEND_SLOTS"]) == min(slots), slots


def test_health_is_ok(host: Any, base_url: str, journal: Any) -> None:
    reply = http(host, "GET", f"{base_url}/health")
    assert reply.status == 200, f"{reply}\n{journal()}"
    assert reply.json()["status"] == "ok"


def test_every_backend_is_healthy(host: Any, base_url: str, backends: list[Any]) -> None:
    reply = http(host, "GET", f"{base_url}/v1/vps/health", timeout=30)
    assert reply.status == 200, reply
    states = {b["backend"]: b["status"] for b in reply.json()["backends"]}
    assert len(states) == len(backends), states
    assert set(states.values()) == {"ok"}, states


def test_models_lists_every_alias(host: Any, base_url: str, expected: Expected) -> None:
    reply = http(host, "GET", f"{base_url}/v1/models", timeout=30)
    assert reply.status == 200, reply
    listed = {m["id"]: m["backend_model"] for m in reply.json()["data"]}
    assert listed == expected.aliases


def test_complete_returns_real_tokens(host: Any, base_url: str) -> None:
    data = complete(host, base_url, prompt=PROMPT, language="python")
    assert data["total_tokens"] > 0, data
    assert data["completion"], data
    assert data["request_id"], data


def test_model_field_switches_the_model(host: Any, base_url: str, expected: Expected) -> None:
    for alias, backend_model in expected.aliases.items():
        if alias in expected.fim_aliases:
            continue  # a FIM model answers the editors' /infill (below), not plain prompts
        data = complete(host, base_url, prompt=PROMPT, model=alias)
        assert data["model"] == alias, data
        assert data["backend_model"] == backend_model, data
        assert data["total_tokens"] > 0, data


def test_stream_sends_tokens_then_done(host: Any, base_url: str) -> None:
    body = {"prompt": PROMPT, "max_tokens": 8}
    reply = http(host, "POST", f"{base_url}/v1/complete/stream", body=body, timeout=180)
    assert reply.status == 200, reply
    events = sse_data(reply.body)
    tokens = [e for e in events if "token" in e]
    assert tokens, reply.body
    assert [e["total_tokens"] for e in tokens] == list(range(1, len(tokens) + 1)), reply.body
    assert events[-1]["done"] is True, reply.body
    assert events[-1].get("error") is None, reply.body


def test_infill_answers_llama_vim_and_its_next_keystroke_is_cached(
    host: Any, base_url: str, expected: Expected
) -> None:
    """The body llama.vim sends (tests/fixtures/editors), on the CM4's first FIM model."""
    if not expected.fim_aliases:
        pytest.skip("no model of format fim is configured")
    body = json.loads((FIXTURES / "llama_vim_fim.json").read_text())
    replies = []
    for line in ("def circumference(r):", "def circumference(r):\n    re"):
        reply = http(host, "POST", f"{base_url}/infill", body={**body, "prompt": line}, timeout=180)
        assert reply.status == 200, reply
        assert re.search(r'"content"\s*:"', reply.body), reply.body  # what llama.vim checks
        replies.append(reply.json())
    first, second = replies
    assert second["timings/prompt_n"] < first["tokens_cached"], replies  # the start was cached


def test_seed_curl_examples_work(host: Any, expected: Expected) -> None:
    outputs = []
    for command in seed_curl_commands(f"localhost:{expected.port}"):
        result = host.run("bash -c %s", command)
        assert result.rc == 0, f"{command}\n{result.stderr}"
        outputs.append(result.stdout)
    check_seed_outputs(outputs)


@pytest.mark.parametrize("script", ["test.sh", "test_vps.sh"])
def test_operator_script_passes(host: Any, expected: Expected, script: str) -> None:
    result = host.run(f"cd {shlex.quote(expected.home)} && ./{script}")
    assert result.rc == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout, result.stdout


def test_logs_script_shows_the_orchestrators_journal(host: Any, expected: Expected) -> None:
    """`logs.sh --no-follow` passes journalctl options on and returns with the service's
    own journal lines (the seed's `tail -f logs/cerebrum.log`: journald is the log)."""
    result = host.run(f"cd {shlex.quote(expected.home)} && ./logs.sh --no-follow -n 5 -o json")
    assert result.rc == 0, result.stdout + result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(entries) == 5, result.stdout
    units = {entry.get("_SYSTEMD_UNIT") for entry in entries}
    assert units == {f"{expected.service}.service"}, units


def test_logs_script_follows_the_journal(host: Any, expected: Expected) -> None:
    """Without --no-follow it keeps following (it is stopped from outside, by timeout)."""
    result = host.run(f"cd {shlex.quote(expected.home)} && timeout 3 ./logs.sh -n 1 -o cat")
    assert result.rc == 124, f"logs.sh returned by itself (rc {result.rc}): {result.stdout}"
    assert result.stdout.strip(), result.stderr


def test_repl_once_streams_a_completion(host: Any, expected: Expected) -> None:
    result = host.run(
        f"{shlex.quote(expected.home)}/scripts/cerebrum_repl.sh --max-tokens 16 --once %s",
        "def add(a, b):",
    )
    assert result.rc == 0, result.stdout + result.stderr
    assert result.stdout.strip(), result.stderr


def test_requests_fail_over_when_a_backend_stops(
    host: Any, base_url: str, backends: list[Any], settings: dict[str, str]
) -> None:
    """With one llama-server stopped, every request is still served (by the others)."""
    if len(backends) < 2:
        pytest.skip("the inventory has one vps host: nothing to fail over to")
    stopped = backends[-1]
    service = role_var(stopped, "llama_cpp", "llama_cpp_service_name")
    stopped.check_output(f"systemctl stop {shlex.quote(service)}")
    try:
        outcomes = [
            http(host, "POST", f"{base_url}/v1/complete", body={"prompt": PROMPT, "max_tokens": 4},
                 timeout=180).status
            for _ in range(6)
        ]  # fmt: skip
        health = http(host, "GET", f"{base_url}/v1/vps/health", timeout=30).json()
    finally:
        stopped.check_output(f"systemctl start {shlex.quote(service)}")
    assert outcomes == [200] * 6, outcomes
    states = {b["backend"]: b["status"] for b in health["backends"]}
    url = f"http://{peer_address(stopped)}:{role_var(stopped, 'llama_cpp', 'llama_cpp_port')}"
    down = f"backend {json.loads(settings['CEREBRUM_BACKENDS']).index(url) + 1}"  # its name
    assert states[down] != "ok", states
    assert "ok" in states.values(), states


def test_service_restarts_after_being_killed(
    host: Any, expected: Expected, unit: dict[str, str], base_url: str, journal: Any
) -> None:
    before = int(unit["MainPID"])
    host.check_output(f"kill -9 {before}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = int(host.check_output(f"systemctl show -p MainPID --value {expected.service}"))
        if pid not in (0, before) and http(host, "GET", f"{base_url}/health").status == 200:
            return
        time.sleep(1)
    pytest.fail(f"{expected.service} did not come back after kill -9 of {before}\n{journal()}")


def usage_requests(host: Any, expected: Expected) -> int:
    """Requests in the usage database, read as usage.sh reads it (read-only, service user)."""
    rows = json.loads(host.check_output(f"{expected.home}/usage.sh --days 2 --json"))
    return sum(int(row["requests"]) for row in rows)


def test_usage_database_is_owned_by_the_service_user(
    host: Any, expected: Expected, base_url: str, journal: Any
) -> None:
    complete(host, base_url, prompt=PROMPT)  # a request, so its day is in the file
    state = f"/var/lib/{role_var(host, 'cerebrum', 'cerebrum_state_directory')}"
    database = host.file(f"{state}/usage.sqlite3")
    deadline = time.monotonic() + 10
    while not database.exists and time.monotonic() < deadline:
        time.sleep(0.5)
    assert database.exists, journal()
    assert database.user == expected.user
    assert host.file(state).user == expected.user
    assert host.file(state).mode == 0o700


def test_usage_survives_a_restart(
    host: Any, expected: Expected, base_url: str, journal: Any
) -> None:
    complete(host, base_url, prompt=PROMPT)
    time.sleep(2)  # the writer commits at least once a second
    before = usage_requests(host, expected)
    assert before >= 1, journal()
    host.check_output(f"systemctl restart {expected.service}")
    deadline = time.monotonic() + 30
    while http(host, "GET", f"{base_url}/health").status != 200:
        assert time.monotonic() < deadline, journal()
        time.sleep(1)
    assert usage_requests(host, expected) >= before, journal()


def test_key_is_not_in_the_journal_or_command_lines(
    host: Any, expected: Expected, settings: dict[str, str], unit: dict[str, str]
) -> None:
    key = settings["CEREBRUM_API_KEY"]
    journal = host.run(f"journalctl -u {expected.service} --no-pager -o cat").stdout
    assert key not in journal, "the backend key appears in the orchestrator's journal"
    procs = service_processes(host, int(unit["MainPID"]))
    assert not [p["pid"] for p in procs if any(key in a for a in p["args"])]


@pytest.mark.parametrize("key", ["wrong-key", "backend-key"])
def test_remote_client_with_a_bad_key_is_refused(
    host: Any, expected: Expected, settings: dict[str, str], key: str
) -> None:
    """From this machine (not loopback): with client keys, a wrong client key or the
    backends' key gets 401 and no key is echoed back; without client keys the orchestrator
    listens on loopback only, so a remote client reaches nothing at all."""
    key = settings["CEREBRUM_API_KEY"] if key == "backend-key" else key
    address = host.ansible.get_variables().get("ansible_host", host_name(host))
    keyed = settings.get("CEREBRUM_CLIENT_KEYS", "[]") not in ("", "[]")
    try:
        reply = httpx.post(
            f"http://{address}:{expected.port}/v1/complete",
            json={"prompt": PROMPT, "max_tokens": 1},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
    except httpx.TransportError as exc:
        if keyed:  # listening on every address: something between here and there
            pytest.skip(f"the orchestrator's port is not reachable from here: {exc}")
        return  # keyless: not served beyond loopback, as it must be
    assert keyed, f"a keyless orchestrator answered a remote client: {reply.status_code}"
    assert reply.status_code == 401, reply.text
    assert reply.json()["error"]["message"], reply.text
    assert settings["CEREBRUM_API_KEY"] not in reply.text
