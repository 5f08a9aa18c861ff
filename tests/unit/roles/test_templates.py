"""Every template of every role parses as Jinja (a shell `${#array[@]}` opens a Jinja
comment, and nothing else would notice before a play renders it on a host), and the
orchestrator's logs.sh, rendered by Ansible, passes journalctl options on: it follows the
unit's journal by default, from its last 50 lines when given no options, and returns with
--no-follow; usage.sh shows the usage database as the service's user; and the check/finish
functions the test scripts source count failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from tests.unit.roles.playbook import ROOT, run_playbook

TEMPLATES = sorted((ROOT / "roles").glob("*/templates/*.j2"))


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_template_parses(template: Path) -> None:
    jinja2.Environment().parse(template.read_text())


RENDER = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.template:
        src: "{{ roles_dir }}/{{ template }}"
        dest: "{{ out }}/{{ template | basename | splitext | first }}"
        mode: "0755"
      vars:
        cerebrum_service_name: cerebrum
"""


def render(tmp_path: Path, template: str, **variables: str) -> Path:
    """``template`` (below roles/) rendered by Ansible's template module into ``tmp_path``,
    with ``variables`` besides the service's name."""
    extra = {"out": str(tmp_path), "roles_dir": str(ROOT / "roles"), "template": template,
             "ansible_python_interpreter": sys.executable, **variables}  # fmt: skip
    result = run_playbook(
        tmp_path, RENDER, "-i", "localhost,", "-c", "local", "-e", json.dumps(extra)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path / Path(template).stem


@pytest.fixture
def logs_sh(tmp_path: Path, needs_ansible: None) -> Path:
    logs = render(tmp_path, "cerebrum/templates/logs.sh.j2")
    # a journalctl that prints the arguments it was given, one a line
    (tmp_path / "bin").mkdir()
    stub = tmp_path / "bin" / "journalctl"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    return logs


@pytest.mark.skipif(os.geteuid() != 0, reason="logs.sh reruns itself with sudo when not root")
@pytest.mark.parametrize(
    ("args", "journalctl"),
    [
        ([], ["--unit", "cerebrum", "--follow", "--lines", "50"]),
        (["--since", "1 hour ago"], ["--unit", "cerebrum", "--follow", "--since", "1 hour ago"]),
        (["--no-follow", "-n", "5"], ["--unit", "cerebrum", "--no-pager", "-n", "5"]),
        (["--no-follow"], ["--unit", "cerebrum", "--no-pager", "--lines", "50"]),
    ],
    ids=["default", "since", "no-follow", "no-follow-alone"],
)
def test_logs_sh_passes_journalctl_options_on(
    logs_sh: Path, args: list[str], journalctl: list[str]
) -> None:
    env = {**os.environ, "PATH": f"{logs_sh.parent / 'bin'}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(logs_sh), *args], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == journalctl


@pytest.fixture
def checks_sh(tmp_path: Path, needs_ansible: None) -> Path:
    return render(tmp_path, "_common/templates/checks.sh.j2")


def run_checks(checks_sh: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f". {checks_sh}\n{script}"], capture_output=True, text=True, timeout=30
    )


def test_the_test_scripts_checks_count_failures_and_show_their_output(checks_sh: Path) -> None:
    result = run_checks(
        checks_sh,
        "check 'it answers' true\n"
        "check 'it is healthy' sh -c 'echo first; echo refused; exit 3'\n"
        "finish 'journalctl -u x'\n"
        "echo not reached",
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "PASS  it answers",
        "FAIL  it is healthy",
        "      first",
        "      refused",
        "1 check(s) failed; see: journalctl -u x",
    ]


def test_the_test_scripts_pass_when_every_check_does(checks_sh: Path) -> None:
    result = run_checks(checks_sh, "check one true\ncheck two true\nfinish hint")
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        ["PASS  one", "PASS  two", "all checks passed"],
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="usage.sh reruns itself with sudo when not root")
def test_usage_sh_shows_the_usage_database_as_the_service_user(
    tmp_path: Path, needs_ansible: None
) -> None:
    from cerebrum.core.usage import Record, UsageStore

    database = tmp_path / "state" / "usage.sqlite3"
    store = UsageStore(database, retention_days=30)
    store.record(Record(key="alice", model="m1", requests=2))
    store.drain()
    store.flush()
    venv = Path(sys.executable).parent.parent
    usage_sh = render(
        tmp_path, "cerebrum/templates/usage.sh.j2",
        cerebrum_user="svc-user", __cerebrum_venv=str(venv), __cerebrum_usage_db=str(database),
    )  # fmt: skip
    (tmp_path / "bin").mkdir()
    stub = tmp_path / "bin" / "runuser"  # records the user, then runs the command as it is
    stub.write_text('#!/bin/sh\necho "$2" > "$(dirname "$0")/user"\nshift 3\nexec "$@"\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(usage_sh), "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert [(row["key"], row["requests"]) for row in json.loads(result.stdout)] == [("alice", 2)]
    assert (stub.parent / "user").read_text().strip() == "svc-user"
