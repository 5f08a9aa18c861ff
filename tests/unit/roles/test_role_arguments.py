"""What the roles refuse before they change anything, run by ansible-playbook against this
machine (connection local): a value of the wrong type or outside its choices is refused by
the role's argument spec, in one message naming the variable, before any task of the role
runs; the internal role _common refuses to run on its own, and an entry point called without
a variable it requires names that variable; roles/cerebrum's preflight names the app source
when the inventory gives none or one that is not there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.roles.playbook import ROOT, run_playbook

pytestmark = pytest.mark.usefixtures("needs_ansible")

ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: ROLE
"""


def run(tmp_path: Path, play: str, extra: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    extra = {"ansible_python_interpreter": sys.executable, **extra}
    return run_playbook(tmp_path, play, "-i", "localhost,", "-c", "local", "-e", json.dumps(extra))


def failure(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The task that failed (the line above `fatal:`) and its message."""
    assert result.returncode != 0, result.stdout
    lines = result.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if line.startswith("fatal:")]
    task = next(line for line in reversed(lines[:at]) if line.startswith("TASK ["))
    return task, json.loads(lines[at].split("=>", 1)[1])["msg"]


@pytest.mark.parametrize(
    ("role", "variable", "value", "named"),
    [
        ("cerebrum", "cerebrum_state", "gone", "cerebrum_state must be one of: present, absent"),
        ("cerebrum", "cerebrum_port", "http", "argument 'cerebrum_port' is of type str"),
        ("cerebrum", "cerebrum_models", "qwen", "option 'cerebrum_models' is of type str"),
        ("llama_cpp", "llama_cpp_state", "gone", "llama_cpp_state must be one of: present, absent"),
        ("llama_cpp", "llama_cpp_parallel", "two", "argument 'llama_cpp_parallel' is of type str"),
        ("llama_cpp", "llama_cpp_models", [{"url": "https://example.org/m.gguf"}],
         "missing required arguments: name found in llama_cpp_models"),
    ],
    ids=["cerebrum-state", "cerebrum-port", "cerebrum-models",
         "llama_cpp-state", "llama_cpp-parallel", "llama_cpp-model-without-name"],
)  # fmt: skip
def test_a_bad_value_is_refused_by_the_argument_spec_naming_it(
    tmp_path: Path, role: str, variable: str, value: Any, named: str
) -> None:
    task, message = failure(run(tmp_path, ROLE_PLAY.replace("ROLE", role), {variable: value}))
    assert "Validating arguments against arg spec 'main'" in task, task
    assert named in message, message


def test_the_internal_role_refuses_to_run_on_its_own(tmp_path: Path) -> None:
    task, message = failure(run(tmp_path, ROLE_PLAY.replace("ROLE", "_common"), {}))
    assert "Refuse to run on its own" in task, task
    assert message.startswith("_common is internal to the Cerebrum roles"), message
    assert "\n" not in message.strip()


@pytest.mark.parametrize("entry", ["account", "service", "run", "remove"])
def test_an_entry_point_names_the_variables_it_requires(tmp_path: Path, entry: str) -> None:
    play = ROLE_PLAY.replace("ROLE", "_common") + f"        tasks_from: {entry}\n"
    task, message = failure(run(tmp_path, play, {}))
    assert f"Validating arguments against arg spec '{entry}'" in task, task
    required = {
        "account": ["_common_group", "_common_user"],
        "service": ["_common_env", "_common_env_file", "_common_restart_handler",
                    "_common_service_name", "_common_unit"],
        "run": ["_common_service_name"],
        "remove": ["_common_group", "_common_service_name", "_common_user"],
    }[entry]  # fmt: skip
    assert f"missing required arguments: {', '.join(required)}" in message, message


PREFLIGHT_PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_facts:
      {os_family: Debian, distribution: Debian, distribution_version: "13.2", service_mgr: systemd}
    cerebrum_api_key: "{{ 'k' * 48 }}"
    cerebrum_backends: [http://192.0.2.1:9000]
    cerebrum_models: [{alias: small, model: small, context_size: 2048}]
  tasks:
    - ansible.builtin.include_role:
        name: cerebrum
        tasks_from: preflight
    - ansible.builtin.copy:
        content: passed
        dest: "{{ out }}"
        mode: "0600"
"""


@pytest.mark.parametrize(
    ("paths", "named"),
    [
        ({}, "cerebrum_app_src and cerebrum_repl_launcher must name the checkout's app/"),
        ({"cerebrum_app_src": "/nonexistent/app",
          "cerebrum_repl_launcher": str(ROOT / "scripts" / "cerebrum_repl.sh")},
         "/nonexistent/app/pyproject.toml missing on the controller"),
    ],
    ids=["unset", "missing"],
)  # fmt: skip
def test_preflight_names_an_app_source_that_is_not_there(
    tmp_path: Path, paths: dict[str, str], named: str
) -> None:
    out = tmp_path / "out"
    task, message = failure(run(tmp_path, PREFLIGHT_PLAY, {"out": str(out), **paths}))
    assert "Preflight | Assert" in task, task
    assert named in message, message
    assert not out.exists()


def test_preflight_passes_with_the_checkouts_app_source(tmp_path: Path) -> None:
    paths = {"cerebrum_app_src": str(ROOT / "app"),
             "cerebrum_repl_launcher": str(ROOT / "scripts" / "cerebrum_repl.sh")}  # fmt: skip
    result = run(tmp_path, PREFLIGHT_PLAY, {"out": str(tmp_path / "out"), **paths})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out").read_text() == "passed"


@pytest.mark.parametrize(
    "keyless",
    [{"cerebrum_host": "0.0.0.0"},
     {"cerebrum_settings": {"forwarded_allow_ips": ["127.0.0.1"]}}],
    ids=["beyond-loopback", "behind-a-proxy"],
)  # fmt: skip
def test_preflight_refuses_a_keyless_orchestrator_beyond_loopback_or_behind_a_proxy(
    tmp_path: Path, keyless: dict[str, Any]
) -> None:
    paths = {"cerebrum_app_src": str(ROOT / "app"),
             "cerebrum_repl_launcher": str(ROOT / "scripts" / "cerebrum_repl.sh")}  # fmt: skip
    out = tmp_path / "out"
    task, message = failure(run(tmp_path, PREFLIGHT_PLAY, {"out": str(out), **paths, **keyless}))
    assert "keyless orchestrator listens on loopback alone" in task, task
    assert "CEREBRUM_CLIENT_KEYS" in message, message
    assert "CEREBRUM_FORWARDED_ALLOW_IPS" in message, message
    assert not out.exists()
    keyed = {**paths, **keyless, "cerebrum_client_keys": ["a-client-key"]}
    result = run(tmp_path, PREFLIGHT_PLAY, {"out": str(out), **keyed})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("backends", "slots"),
    [({"vps-a": {"llama_cpp_parallel": 4}, "vps-b": {"llama_cpp_parallel": 3}}, "3"),
     ({"vps-a": {}}, "2"), ({}, "2")],
    ids=["smallest-parallel", "llama_cpp-default", "no-vps"],
)  # fmt: skip
def test_the_backend_slots_follow_the_backends_parallel_slots(
    tmp_path: Path, backends: dict[str, Any], slots: str
) -> None:
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local"}},
                         "children": {"vps": {"hosts": backends}}}}  # fmt: skip
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    paths = {"cerebrum_app_src": str(ROOT / "app"),
             "cerebrum_repl_launcher": str(ROOT / "scripts" / "cerebrum_repl.sh"),
             "out": str(tmp_path / "out"),
             "ansible_python_interpreter": sys.executable}  # fmt: skip
    play = PREFLIGHT_PLAY.replace(
        "tasks_from: preflight", "tasks_from: preflight\n        public: true"
    )
    play = play.replace("content: passed", 'content: "{{ cerebrum_backend_slots }}"')
    result = run_playbook(tmp_path, play, "-i", "hosts.json", "-e", json.dumps(paths))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out").read_text() == slots


def test_preflight_refuses_backend_slots_that_are_not_a_number_of_slots(tmp_path: Path) -> None:
    paths = {"cerebrum_app_src": str(ROOT / "app"),
             "cerebrum_repl_launcher": str(ROOT / "scripts" / "cerebrum_repl.sh")}  # fmt: skip
    out = tmp_path / "out"
    extra = {"out": str(out), "cerebrum_backend_slots": 0, **paths}
    task, message = failure(run(tmp_path, PREFLIGHT_PLAY, extra))
    assert "cerebrum_backend_slots is a number of slots" in task, task
    assert (
        "cerebrum_backend_slots must be 1-256, the backends' llama_cpp_parallel; got '0'" in message
    )
    assert not out.exists()
