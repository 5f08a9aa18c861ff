"""The systemd unit of each Cerebrum service (both come from
roles/_common/templates/hardened.service.j2): enabled and running, hardened, limited, and
its `systemd-analyze security` exposure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import role_var
from infra_support import HARDENING, exposure

testinfra_hosts = ["ansible://cm4", "ansible://vps"]


@dataclass(frozen=True)
class Expected:
    service: str


@pytest.fixture(scope="module")
def expected(host: Any) -> Expected:
    """The host's service: the orchestrator on a cm4 host, llama-server on a vps host."""
    groups = host.ansible.get_variables()["group_names"]
    if "cm4" in groups:
        return Expected(service=role_var(host, "cerebrum", "cerebrum_service_name"))
    return Expected(service=role_var(host, "llama_cpp", "llama_cpp_service_name"))


def test_service_is_enabled_and_running(host: Any, expected: Expected, journal: Any) -> None:
    service = host.service(expected.service)
    assert service.is_enabled, f"{expected.service} is not enabled\n{journal()}"
    assert service.is_running, f"{expected.service} is not running\n{journal()}"


@pytest.mark.parametrize(("prop", "wanted"), [("Restart", "on-failure"), *HARDENING.items()])
def test_unit_hardening_property(unit: dict[str, str], prop: str, wanted: str) -> None:
    assert unit.get(prop) == wanted, f"{prop}={unit.get(prop)!r}"


def test_unit_limits_memory_and_tasks(unit: dict[str, str]) -> None:
    assert unit["MemoryMax"] not in ("", "infinity"), unit["MemoryMax"]
    assert unit["TasksMax"] not in ("", "infinity"), unit["TasksMax"]


def test_unit_exposure_is_ok(host: Any, expected: Expected) -> None:
    score, report = exposure(host, expected.service)
    print(f"{expected.service}: systemd-analyze security exposure {score}")
    assert score <= 3.0, f"exposure {score}\n{report}"
