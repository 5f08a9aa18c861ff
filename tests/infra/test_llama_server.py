"""Every host of group `vps` as roles/llama_cpp leaves it: one fact per test, each failure
explains itself. (conftest.py: how to run them against any inventory.)
"""

from __future__ import annotations

import re
import shlex
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import is_templated, peer_address, role_var
from infra_support import (
    address_allowed,
    controller_source_address,
    http,
    listening_ports,
    service_processes,
)

testinfra_hosts = ["ansible://vps"]

PROMPT = "The capital of France is"


@dataclass(frozen=True)
class Expected:
    """What the inventory says the host should look like."""

    service: str
    user: str
    group: str
    port: int
    build_number: int
    build_commit: str
    models: list[dict[str, str]]
    models_dir: str
    allowed_sources: list[str]
    address: str
    env_file: str
    ip_confine: bool
    listen: str
    scripts_dir: str


def _as_list(value: Any) -> list[str]:
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


@pytest.fixture(scope="module")
def expected(host: Any, orchestrators: list[Any]) -> Expected:
    def var(name: str) -> Any:
        return role_var(host, "llama_cpp", name)

    inventory = host.ansible.get_variables()
    service = var("llama_cpp_service_name")
    allowed = var("llama_cpp_allowed_sources")
    if is_templated(allowed):  # built from addresses only a play knows: ask the hosts
        allowed = [peer_address(o) for o in orchestrators]
    return Expected(
        service=service,
        user=var("llama_cpp_user"),
        group=var("llama_cpp_group"),
        port=int(var("llama_cpp_port")),
        build_number=int(var("llama_cpp_build_number")),
        build_commit=str(var("llama_cpp_build_commit")),
        models=[
            {"name": m["name"], "sha256": m["sha256"].lower()} for m in var("llama_cpp_models")
        ],
        models_dir=var("llama_cpp_models_dir"),
        allowed_sources=_as_list(allowed),
        address=str(inventory.get("ansible_host", inventory["inventory_hostname"])),
        env_file=f"/etc/{service}/{service}.env",
        ip_confine=bool(var("llama_cpp_ip_confine")),
        listen=str(var("llama_cpp_host")),
        scripts_dir=str(var("llama_cpp_scripts_dir")),
    )


@pytest.fixture(scope="module")
def api_key(host: Any, expected: Expected) -> str:
    """The key as the service reads it: the first of LLAMA_API_KEY in its env file."""
    content = host.file(expected.env_file).content_string
    for line in content.splitlines():
        if line.startswith("LLAMA_API_KEY="):
            return line.split("=", 1)[1].strip().strip("'").split(",")[0]
    pytest.fail(f"{expected.env_file} has no LLAMA_API_KEY line")


def _main_pid(unit: dict[str, str]) -> int:
    return int(unit["MainPID"])


def test_service_runs_as_dedicated_user(
    host: Any, expected: Expected, unit: dict[str, str]
) -> None:
    assert unit["User"] == expected.user
    user = host.user(expected.user)
    assert user.exists
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    wrong = [p for p in service_processes(host, _main_pid(unit)) if p["uid"] != user.uid]
    assert not wrong, f"processes not running as {expected.user}: {wrong}"


def test_binary_reports_pinned_version(host: Any, expected: Expected, unit: dict[str, str]) -> None:
    match = re.search(r"path=(\S+)", unit["ExecStart"])
    assert match, f"no path in ExecStart: {unit['ExecStart']}"
    cmd = host.run(f"{shlex.quote(match.group(1))} --version")
    assert cmd.rc == 0, cmd.stderr
    pin = f"(build {expected.build_number}, commit {expected.build_commit})"
    assert pin in cmd.stdout + cmd.stderr, (
        f"{match.group(1)} --version says: {cmd.stdout}{cmd.stderr}"
    )


def test_port_is_listening(host: Any, expected: Expected, journal: Any) -> None:
    listening = host.socket(f"tcp://{expected.listen}:{expected.port}").is_listening
    assert listening, f"nothing listens on :{expected.port}\n{journal()}"


def test_models_are_present_with_pinned_sha256(host: Any, expected: Expected) -> None:
    assert expected.models, "the inventory lists no llama_cpp_models"
    for model in expected.models:
        path = f"{expected.models_dir}/{model['name']}.gguf"
        model_file = host.file(path)
        assert model_file.is_file, f"{path} is missing"
        assert model_file.user == "root"
        assert model_file.mode & 0o022 == 0, f"{path} is writable by others: {oct(model_file.mode)}"
        assert model_file.sha256sum == model["sha256"], f"{path}: sha256 {model_file.sha256sum}"


def test_key_file_is_root_only(host: Any, expected: Expected) -> None:
    key_file = host.file(expected.env_file)
    assert key_file.is_file
    assert key_file.user == "root"
    assert key_file.group == "root"
    assert key_file.mode == 0o600, oct(key_file.mode)


def test_key_is_not_on_any_command_line(host: Any, unit: dict[str, str], api_key: str) -> None:
    procs = service_processes(host, _main_pid(unit))
    assert procs, "the service has no processes"
    leaks = [p["pid"] for p in procs if any(api_key in arg for arg in p["args"])]
    assert not leaks, f"the API key is on the command line of {leaks}"


def test_health_is_ok(host: Any, base_url: str, journal: Any) -> None:
    reply = http(host, "GET", f"{base_url}/health")
    assert reply.status == 200, f"{reply}\n{journal()}"
    assert reply.json().get("status") == "ok"


def test_router_lists_every_model(
    host: Any, base_url: str, api_key: str, expected: Expected
) -> None:
    reply = http(host, "GET", f"{base_url}/v1/models", key=api_key)
    assert reply.status == 200, reply
    ids = {entry["id"] for entry in reply.json()["data"]}
    assert {m["name"] for m in expected.models} <= ids, f"router serves {sorted(ids)}"


def test_completion_with_key_returns_tokens(
    host: Any, base_url: str, api_key: str, expected: Expected, journal: Any
) -> None:
    model = expected.models[0]["name"]
    body = {"model": model, "prompt": PROMPT, "n_predict": 8, "temperature": 0}
    reply = http(host, "POST", f"{base_url}/completion", key=api_key, body=body, timeout=180)
    assert reply.status == 200, f"{reply}\n{journal()}"
    data = reply.json()
    assert data["tokens_predicted"] > 0, data
    assert data["content"].strip(), data


def test_request_without_key_is_rejected(host: Any, base_url: str, expected: Expected) -> None:
    body = {"model": expected.models[0]["name"], "prompt": PROMPT, "n_predict": 4}
    reply = http(host, "POST", f"{base_url}/completion", body=body)
    assert reply.status == 401, reply


def test_request_with_wrong_key_is_rejected(host: Any, base_url: str, expected: Expected) -> None:
    reply = http(host, "GET", f"{base_url}/v1/models", key="not-the-key")
    assert reply.status == 401, reply


def test_model_children_enforce_the_key(
    host: Any, base_url: str, api_key: str, expected: Expected, unit: dict[str, str]
) -> None:
    """Router mode runs each loaded model as a child llama-server on a loopback port."""
    body = {"model": expected.models[0]["name"], "prompt": PROMPT, "n_predict": 1}
    loaded = http(host, "POST", f"{base_url}/completion", key=api_key, body=body, timeout=180)
    assert loaded.status == 200, loaded
    main_pid = _main_pid(unit)
    children = [p["pid"] for p in service_processes(host, _main_pid(unit)) if p["pid"] != main_pid]
    ports = [p for p in listening_ports(host, children) if p != expected.port]
    assert ports, f"no loaded model child of {main_pid} listens (children {children})"
    for port in ports:
        reply = http(
            host,
            "POST",
            f"http://127.0.0.1:{port}/completion",
            body={"prompt": PROMPT, "n_predict": 1},
        )
        assert reply.status == 401, f"child on 127.0.0.1:{port} answered without the key: {reply}"


def test_port_is_closed_to_a_host_that_is_not_allowed(expected: Expected) -> None:
    """Runs on the controller (this machine), against the inventory's address of the host."""
    source = controller_source_address(expected.address)
    if source is None:
        pytest.skip(f"no route from the controller to {expected.address}")
    if address_allowed(source, expected.allowed_sources):
        pytest.skip(f"the controller's address {source} is an allowed source")
    sock = socket.socket(socket.AF_INET6 if ":" in expected.address else socket.AF_INET)
    sock.settimeout(3)
    try:
        outcome = sock.connect_ex((expected.address, expected.port))
    except TimeoutError:
        outcome = "timeout"
    finally:
        sock.close()
    assert outcome != 0, f"{expected.address}:{expected.port} accepted a connection from {source}"


def test_port_is_open_to_the_orchestrator(orchestrators: list[Any], expected: Expected) -> None:
    if not orchestrators:
        pytest.skip("the inventory has no cm4 host")
    for orchestrator in orchestrators:
        reply = http(
            orchestrator, "GET", f"http://{expected.address}:{expected.port}/health", timeout=10
        )
        assert reply.status == 200, f"from {orchestrator.backend.get_pytest_id()}: {reply}"


def test_unit_restricts_address_families_and_syscalls(unit: dict[str, str]) -> None:
    assert set(unit["RestrictAddressFamilies"].split()) <= {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert unit["SystemCallFilter"], "no SystemCallFilter"
    assert unit["SystemCallArchitectures"] == "native"


def test_unit_limits_cpu(unit: dict[str, str]) -> None:
    assert unit["CPUWeight"] not in ("", "[not set]") or unit["CPUQuotaPerSecUSec"] != "infinity"


def test_memory_limit_is_enforced(unit: dict[str, str]) -> None:
    """MemoryMax only bites where systemd has the memory controller (cgroup v2 hosts)."""
    if unit["MemoryCurrent"] in ("", "[not set]"):
        pytest.skip(
            "no memory accounting for the unit (cgroup v1/hybrid host, such as the nspawn lab):"
            f" MemoryMax={unit['MemoryMax']} is configured but not enforced here"
        )
    assert int(unit["MemoryCurrent"]) < int(unit["MemoryMax"])


def test_unit_is_confined_to_allowed_addresses(unit: dict[str, str], expected: Expected) -> None:
    if not expected.ip_confine:
        pytest.skip("llama_cpp_ip_confine is false")
    deny = unit["IPAddressDeny"]
    assert "::/0" in deny or "0.0.0.0/0" in deny, deny
    assert "127.0.0.0/8" in unit["IPAddressAllow"], unit["IPAddressAllow"]


def test_operator_test_script_passes(host: Any, expected: Expected, journal: Any) -> None:
    if not expected.scripts_dir:
        pytest.skip("llama_cpp_scripts_dir is empty: no operator scripts")
    result = host.run(f"{shlex.quote(expected.scripts_dir)}/test.sh")
    assert result.rc == 0, f"{result.stdout}{result.stderr}\n{journal()}"
    assert "all checks passed" in result.stdout


def test_port_is_closed_to_the_other_backends(
    host: Any, backends: list[Any], expected: Expected
) -> None:
    """Another lab address that is not an orchestrator (the other VPS) cannot connect either."""
    others = [b for b in backends if peer_address(b) not in expected.allowed_sources]
    others = [b for b in others if b.backend.get_pytest_id() != host.backend.get_pytest_id()]
    if not others:
        pytest.skip("no other non-orchestrator host in the inventory")
    for other in others:
        reply = http(other, "GET", f"http://{expected.address}:{expected.port}/health", timeout=3)
        assert reply.status is None, f"from {other.backend.get_pytest_id()}: {reply}"
