"""The tested platforms (Debian 12 and 13, x86_64 and aarch64, Raspberry Pi OS reporting
itself as Debian) pass the common role's preflight and anything else is refused with one
line naming the release and the architecture; the llama_cpp role picks the OpenSSL 3
package of the host's release from its facts. Run by ansible-playbook against this
machine (connection local) with the facts of the host under test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.roles.playbook import ROOT, run_playbook

pytestmark = pytest.mark.usefixtures("needs_ansible")

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_facts: HOST_FACTS
  tasks:
    - ansible.builtin.include_role:
        name: common
        tasks_from: preflight
    - ansible.builtin.include_vars:
        file: "{{ roles_dir }}/llama_cpp/vars/main.yml"
    - ansible.builtin.copy:
        content: "{{ {'libssl': __llama_cpp_libssl_package} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def facts(distribution: str, version: str, release: str, arch: str) -> dict[str, str]:
    return {
        "distribution": distribution,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
        "distribution_release": release,
        "architecture": arch,
        "os_family": "Debian",
        "service_mgr": "systemd",
        "virtualization_role": "host",
        "virtualization_type": "",
    }


def run(tmp_path: Path, host_facts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    extra = {"out": str(tmp_path / "out.json"), "ansible_python_interpreter": sys.executable,
             "roles_dir": str(ROOT / "roles")}  # fmt: skip
    playbook = PLAYBOOK.replace("HOST_FACTS", json.dumps(host_facts))
    return run_playbook(tmp_path, playbook, "-i", "localhost,", "-e", json.dumps(extra))


@pytest.mark.parametrize(
    ("host", "libssl"),
    [
        (facts("Debian", "12.12", "bookworm", "x86_64"), "libssl3"),
        (facts("Debian", "12.12", "bookworm", "aarch64"), "libssl3"),
        (facts("Debian", "13.8", "trixie", "x86_64"), "libssl3t64"),
        (facts("Debian", "13.8", "trixie", "aarch64"), "libssl3t64"),  # Raspberry Pi OS
    ],
    ids=["bookworm-x86_64", "bookworm-aarch64", "trixie-x86_64", "trixie-aarch64"],
)
def test_a_tested_platform_passes_and_gets_its_openssl_package(
    tmp_path: Path, host: dict[str, str], libssl: str
) -> None:
    result = run(tmp_path, host)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == {"libssl": libssl}


@pytest.mark.parametrize(
    ("host", "named"),
    [
        (facts("Ubuntu", "24.04", "noble", "x86_64"), "Ubuntu 24.04 (noble) on x86_64"),
        (facts("Debian", "11.11", "bullseye", "x86_64"), "Debian 11.11 (bullseye) on x86_64"),
        (facts("Debian", "13.8", "trixie", "armv7l"), "Debian 13.8 (trixie) on armv7l"),
    ],
    ids=["ubuntu-noble", "bullseye", "trixie-armv7l"],
)
def test_anything_else_is_refused_in_one_line_naming_release_and_architecture(
    tmp_path: Path, host: dict[str, str], named: str
) -> None:
    result = run(tmp_path, host)
    assert result.returncode != 0, result.stdout
    [line] = [line for line in result.stdout.splitlines() if "fatal:" in line]
    message = json.loads(line.split("=>", 1)[1])["msg"]
    assert message.startswith("Cerebrum is tested on Debian 12 (bookworm) and 13 (trixie)"), message
    assert f"this host is {named} with systemd." in message, message
    assert "\n" not in message
    assert not (tmp_path / "out.json").exists()
