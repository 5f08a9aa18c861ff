"""roles/_common's `service` entry point, run by ansible-playbook against this machine
(connection local) into a temporary directory: it writes the environment file, the unit
and the start script and notifies the caller's restart handler; a second run changes
nothing and restarts nothing; `--diff -v` never shows a value of the environment file; a
new file the caller's check refuses fails the play with the check's message, and the old
file stays, without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.roles.playbook import run_playbook

pytestmark = [
    pytest.mark.usefixtures("needs_ansible"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the unit and the start script belong to root"),
]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  handlers:
    - name: Restart demo
      ansible.builtin.shell: echo restarted >> {{ out }}/restarts
      changed_when: true
  tasks:
    - ansible.builtin.include_role:
        name: _common
        tasks_from: service
      vars:
        _common_service_name: demo
        _common_restart_handler: Restart demo
        _common_unit: {description: Demo, user: nobody, group: nogroup, exec_start: /bin/true}
        _common_env: {header: [Demo], vars: {DEMO_KEY: "{{ key }}", DEMO_LIST: [1, 2]}}
        _common_env_file: "{{ out }}/demo.env"
        _common_env_validate: "{{ check }}"
        _common_start_script: "{{ out }}/start.sh"
        _common_health_url: http://127.0.0.1:9/health
"""

KEY = "k3y-that-must-never-show-0123456789abcdef"
# A check that refuses a file holding the word "bad", naming the setting, never its value.
CHECK = "sh -c 'if grep -q bad %s; then echo DEMO_KEY is malformed >&2; exit 2; fi'"


def run(out: Path, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    extra = {
        "out": str(out),
        "key": key,
        "check": CHECK,
        "ansible_python_interpreter": sys.executable,
        # (the unit goes to the temporary directory instead of /etc/systemd/system)
        "__common_unit_file": str(out / "demo.service"),
    }
    return run_playbook(
        out, PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", json.dumps(extra), *args
    )


def restarts(out: Path) -> int:
    path = out / "restarts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_writes_the_files_restarts_once_and_then_changes_nothing(tmp_path: Path) -> None:
    first = run(tmp_path, KEY)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "demo.env").read_text().endswith(f"DEMO_KEY='{KEY}'\nDEMO_LIST='[1, 2]'\n")
    assert (tmp_path / "demo.env").stat().st_mode & 0o777 == 0o600
    assert "ExecStart=/bin/true" in (tmp_path / "demo.service").read_text()
    assert "http://127.0.0.1:9/health" in (tmp_path / "start.sh").read_text()
    assert restarts(tmp_path) == 1

    second = run(tmp_path, KEY)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "changed=0" in second.stdout, second.stdout
    assert restarts(tmp_path) == 1


def test_diff_and_verbose_output_never_show_the_value(tmp_path: Path) -> None:
    assert run(tmp_path, KEY).returncode == 0
    changed = run(tmp_path, KEY[::-1], "--diff", "-v")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert restarts(tmp_path) == 2
    output = changed.stdout + changed.stderr
    assert KEY not in output
    assert KEY[::-1] not in output


def test_a_file_the_check_refuses_keeps_the_old_one_without_a_restart(tmp_path: Path) -> None:
    assert run(tmp_path, KEY).returncode == 0
    before = (tmp_path / "demo.env").read_text()
    refused = run(tmp_path, "bad-value-0123456789abcdef0123456789")
    assert refused.returncode != 0, refused.stdout
    assert "DEMO_KEY is malformed" in refused.stdout, refused.stdout
    assert "bad-value" not in refused.stdout + refused.stderr
    assert (tmp_path / "demo.env").read_text() == before
    assert restarts(tmp_path) == 1
