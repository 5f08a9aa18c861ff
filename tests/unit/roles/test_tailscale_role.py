"""roles/tailscale on its own, run by ansible-playbook against this machine (connection
local): Tailscale's servers are unreachable here, so the join itself is not exercised, but
the switch-off path and the refusal without an auth key are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.roles.playbook import run_playbook

pytestmark = pytest.mark.usefixtures("needs_ansible")

PLAYBOOK = """
- hosts: cm4
  gather_facts: false
  roles:
    - role: tailscale
  tasks:
    - ansible.builtin.copy:
        content: "{{ {'address': tailscale_peer_address} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def run_role(tmp_path: Path, **host_vars: object) -> subprocess.CompletedProcess[str]:
    inventory = {
        "all": {"children": {"cm4": {"hosts": {"pi": {
            "ansible_connection": "local",
            "ansible_host": "192.0.2.7",
            "ansible_python_interpreter": sys.executable,
            **host_vars,
        }}}}}
    }  # fmt: skip
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    return run_playbook(tmp_path, PLAYBOOK, "-i", str(tmp_path / "hosts.json"),
                        "-e", f"out={tmp_path / 'out.json'}")  # fmt: skip


def test_switched_off_publishes_the_inventory_address(tmp_path: Path) -> None:
    result = run_role(tmp_path, tailscale_enabled=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == {"address": "192.0.2.7"}


def test_refuses_to_join_without_an_auth_key_and_names_the_variable(tmp_path: Path) -> None:
    result = run_role(tmp_path, tailscale_enabled=True)
    assert result.returncode != 0, result.stdout
    assert "tailscale_authkey is empty" in result.stdout, result.stdout
    assert "Install |" not in result.stdout, "the role went on to install after refusing"
