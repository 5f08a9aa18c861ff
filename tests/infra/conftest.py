"""Shared fixtures of the host tests (testinfra), for ANY inventory.

Each test module names the group it checks (`testinfra_hosts`): test_base.py every host,
test_llama_server.py group `vps`, test_orchestrator.py group `cm4`. Expected values (ports,
pinned build, models, service names...) come from the inventory through testinfra's
ansible backend, falling back to the roles' defaults; keys are read from the hosts' own
root-only files. Run them against the lab or your hosts with::

    pytest tests/infra --ansible-inventory=inventory/lab          (make verify)
    pytest tests/infra --ansible-inventory=inventory/production   (make verify INVENTORY=...)

Each module defines an `expected` fixture (what its role should have left); `unit` and
`journal` below follow the module's `expected.service`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
import testinfra

from harness.role import defaults as role_defaults


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


def is_templated(value: Any) -> bool:
    """True when a value still holds Jinja that could not be resolved outside a play."""
    return "{{" in (value if isinstance(value, str) else json.dumps(value))


def role_var(host: Any, role: str, name: str) -> Any:
    """A role variable as `host` sees it: the inventory's value, else the role's default."""
    inventory = host.ansible.get_variables()
    if name in inventory:
        return _resolve(host, name, inventory[name])
    return role_defaults(role)[name]


def peer_address(host: Any) -> str:
    """The address the other Cerebrum hosts use for `host` (what roles/tailscale publishes)."""
    enabled = role_var(host, "tailscale", "tailscale_enabled")
    if str(enabled).lower() == "true":
        return host.check_output("tailscale ip -4").splitlines()[0].strip()
    inventory = host.ansible.get_variables()
    return str(inventory.get("ansible_host", inventory["inventory_hostname"]))


def group_hosts(host: Any, group: str, request: pytest.FixtureRequest) -> list[Any]:
    """testinfra hosts for every host of an inventory group."""
    groups = host.ansible.get_variables().get("groups", {})
    inventory = request.config.getoption("ansible_inventory", None)
    force_ansible = bool(request.config.getoption("force_ansible", False))
    return [
        testinfra.get_host(
            f"ansible://{name}", ansible_inventory=inventory, force_ansible=force_ansible
        )
        for name in groups.get(group, [])
    ]


def host_name(host: Any) -> str:
    return str(host.backend.get_pytest_id())


@pytest.fixture(scope="module")
def orchestrators(host: Any, request: pytest.FixtureRequest) -> list[Any]:
    """testinfra hosts for the inventory's cm4 group (the orchestrators)."""
    return group_hosts(host, "cm4", request)


@pytest.fixture(scope="module")
def backends(host: Any, request: pytest.FixtureRequest) -> list[Any]:
    """testinfra hosts for the inventory's vps group (the llama-servers)."""
    return group_hosts(host, "vps", request)


@pytest.fixture(scope="module")
def journal(host: Any, expected: Any):
    """Last lines of the module's service's journal, for failure messages."""

    def _journal(lines: int = 60) -> str:
        return host.run(
            f"journalctl -u {shlex.quote(expected.service)} -n {lines} --no-pager"
        ).stdout

    return _journal


@pytest.fixture
def unit(host: Any, expected: Any) -> dict[str, str]:
    """`systemctl show` of the module's service as a dict (read afresh for every test)."""
    out = host.check_output(f"systemctl show --all {shlex.quote(expected.service)} --no-pager")
    props: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        props.setdefault(key, value)
    return props


@pytest.fixture(scope="module")
def settings(host: Any, expected: Any) -> dict[str, str]:
    """The orchestrator's deployed .env (the module's `expected.home`), KEY -> value."""
    content = host.file(f"{expected.home}/.env").content_string
    pairs = (line.split("=", 1) for line in content.splitlines() if "=" in line)
    return {k: v.strip().strip("'") for k, v in pairs if not k.startswith("#")}


@pytest.fixture(scope="module")
def base_url(expected: Any) -> str:
    return f"http://127.0.0.1:{expected.port}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `faults` tests last: they break the appliance on purpose (and heal it)."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)
