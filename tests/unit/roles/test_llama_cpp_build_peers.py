"""roles/llama_cpp: the hosts whose compile waits for each other (tasks/build.yml,
`throttle: 1`) are exactly those with this host's build fingerprint (shared ccache id,
compiler, CPU flags); a host with a fingerprint of its own compiles at the same time as
the others, and a host that builds nothing (no fingerprint: `throttle` is templated for it
too, before `when`) is nobody's peer and has none."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.unit.roles.playbook import ROOT, run_playbook

pytestmark = pytest.mark.usefixtures("needs_ansible")

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        __llama_cpp_build_fingerprint: "{{ fingerprint }}"
      when: fingerprint is defined
    - ansible.builtin.include_vars:
        file: "{{ roles_dir }}/llama_cpp/vars/main.yml"
    - ansible.builtin.copy:
        content: "{{ __llama_cpp_build_peers | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
"""


def test_peers_are_the_hosts_with_the_same_fingerprint(tmp_path: Path) -> None:
    hosts = {"vps1": {"fingerprint": "shared"}, "vps2": {"fingerprint": "shared"},
             "vps3": {"fingerprint": "own"}, "vps4": {}}  # fmt: skip
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": {name: {**local, **v} for name, v in hosts.items()}}}
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    extra = {"out_dir": str(tmp_path), "roles_dir": str(ROOT / "roles")}
    result = run_playbook(
        tmp_path, PLAYBOOK, "-i", str(tmp_path / "hosts.json"), "-e", json.dumps(extra)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    peers = {
        name: json.loads((tmp_path / f"{name}.json").read_text()) for name in hosts if hosts[name]
    }
    assert peers == {"vps1": ["vps1", "vps2"], "vps2": ["vps1", "vps2"], "vps3": ["vps3"]}
