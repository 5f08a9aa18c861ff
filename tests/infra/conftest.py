"""Fixtures for the llama-server host tests.

The tests run against ANY inventory: expected values (port, pinned build, model checksums,
service name...) come from the inventory through testinfra's ansible backend, falling
back to the role's defaults, and the API key is read from the host's own root-only
environment file. Run them with, for example::

    pytest tests/infra --hosts='ansible://vps' --ansible-inventory=inventory/lab

The check that the port is closed to strangers runs on the controller against the
inventory's address.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml
from llama_support import Expected

ROOT = Path(__file__).resolve().parents[2]
ROLE_DEFAULTS = ROOT / "roles" / "llama_cpp" / "defaults" / "main.yml"


def _resolve(host: Any, name: str, value: Any) -> Any:
    """Template an inventory value that still holds Jinja (ansible-inventory does not)."""
    if not (isinstance(value, str) and "{{" in value) and not (
        isinstance(value, list | dict) and "{{" in json.dumps(value)
    ):
        return value
    out = host.ansible("ansible.builtin.debug", f"var={name}", check=False)
    resolved = out.get(name, value)
    if isinstance(resolved, str) and resolved.startswith("VARIABLE IS NOT DEFINED"):
        return value
    return resolved


def _as_list(value: Any) -> list[str]:
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


@pytest.fixture(scope="module")
def expected(host: Any) -> Expected:
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    inventory = host.ansible.get_variables()

    def var(name: str) -> Any:
        if name in inventory:
            return _resolve(host, name, inventory[name])
        return defaults[name]

    service = var("llama_cpp_service_name")
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
        allowed_sources=_as_list(var("llama_cpp_allowed_sources")),
        address=str(inventory.get("ansible_host", inventory["inventory_hostname"])),
        env_file=f"/etc/{service}/{service}.env",
        ip_confine=bool(var("llama_cpp_ip_confine")),
        listen=str(var("llama_cpp_host")),
    )


@pytest.fixture(scope="module")
def api_key(host: Any, expected: Expected) -> str:
    """The key as the service reads it: from its root-only environment file."""
    content = host.file(expected.env_file).content_string
    for line in content.splitlines():
        if line.startswith("LLAMA_API_KEY="):
            return line.split("=", 1)[1].strip()
    pytest.fail(f"{expected.env_file} has no LLAMA_API_KEY line")


@pytest.fixture(scope="module")
def journal(host: Any, expected: Expected):
    """Last lines of the service's journal, for failure messages."""

    def _journal(lines: int = 60) -> str:
        return host.run(
            f"journalctl -u {shlex.quote(expected.service)} -n {lines} --no-pager"
        ).stdout

    return _journal


@pytest.fixture(scope="module")
def unit(host: Any, expected: Expected) -> dict[str, str]:
    """`systemctl show` of the service as a dict."""
    out = host.check_output(f"systemctl show --all {shlex.quote(expected.service)} --no-pager")
    props: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        props.setdefault(key, value)
    return props


@pytest.fixture(scope="module")
def base_url(expected: Expected) -> str:
    return f"http://127.0.0.1:{expected.port}"


@pytest.fixture(scope="module")
def inventory_path(request: pytest.FixtureRequest) -> str | None:
    return request.config.getoption("ansible_inventory", None)


@pytest.fixture(scope="module")
def orchestrators(
    host: Any, inventory_path: str | None, request: pytest.FixtureRequest
) -> list[Any]:
    """testinfra hosts for the inventory's cm4 group (the allowed orchestrators)."""
    groups = host.ansible.get_variables().get("groups", {})
    force_ansible = bool(request.config.getoption("force_ansible", False))
    return [
        testinfra.get_host(
            f"ansible://{name}", ansible_inventory=inventory_path, force_ansible=force_ansible
        )
        for name in groups.get("cm4", [])
    ]
