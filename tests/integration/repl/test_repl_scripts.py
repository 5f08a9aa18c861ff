"""The REPL without a terminal: --once for scripts, piped sessions, the launcher's checks."""

from __future__ import annotations

import re
import shutil
import subprocess

from harness.orchestrator import CLIENT_KEY
from harness.ports import free_port
from tests.integration.repl.conftest import LAUNCHER, REPL_COMMAND, repl_environment
from tests.integration.repl.support import SUMMARY, marker, slot_with

TIMEOUT = 120  # seconds; a loaded machine has needed 30 for a short completion


def run(tmp_path, *args: str, stdin: str = "", key: str | None = CLIENT_KEY, **env: str):
    """The REPL with pipes; stdout and stderr decoded as they are (no newline translation)."""
    if key is not None:
        env["CEREBRUM_CLIENT_KEY"] = key
    result = subprocess.run(
        [*REPL_COMMAND, *args],
        input=stdin.encode(),
        capture_output=True,
        env=repl_environment(tmp_path, **env),
        timeout=TIMEOUT,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def test_once_prints_exactly_the_completion_and_the_summary_on_stderr(
    tmp_path, orchestrator, llama_server
):
    prompt = f"def scale_{marker()}(values, factor):"
    result = run(tmp_path, "--url", orchestrator.url, "--max-tokens", "12", "--once", prompt)

    assert result.returncode == 0, result.stderr
    slot = slot_with(llama_server, "gemma3-270m", prompt)
    assert slot is not None, f"no slot saw {prompt!r}"
    assert result.stdout == slot["generated"], (result.stdout, slot["generated"])
    assert re.fullmatch(SUMMARY + r"\n", result.stderr), result.stderr
    assert "model gemma," in result.stderr, result.stderr


def test_once_quiet_prints_nothing_but_the_completion(tmp_path, orchestrator):
    result = run(tmp_path, "--url", orchestrator.url, "--max-tokens", "4", "-q", "--once", "x = ")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout


def test_once_reads_the_prompt_from_stdin_with_a_dash(tmp_path, orchestrator, llama_server):
    prompt = f"class Point_{marker()}:\n    def __init__(self, x, y):\n"
    result = run(
        tmp_path, "--url", orchestrator.url, "--max-tokens", "4", "--once", "-", stdin=prompt
    )
    assert result.returncode == 0, result.stderr
    slot = slot_with(llama_server, "gemma3-270m", prompt)
    assert slot is not None, f"the backend did not get the exact text {prompt!r}"


def test_once_fails_with_one_line_and_status_1_when_the_orchestrator_is_down(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = run(tmp_path, "--url", url, "--once", "x = ")
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: cannot connect to {url}: Connection refused"]


def test_once_with_a_wrong_key_fails_with_status_1_and_never_shows_the_key(tmp_path, orchestrator):
    wrong = "wrong-" + marker()
    result = run(tmp_path, "--url", orchestrator.url, "--once", "x = ", key=wrong)
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: 401 unauthorized: invalid API key"), result.stderr
    assert wrong not in result.stdout + result.stderr


def test_piped_session_writes_plain_completions_to_stdout_and_notes_to_stderr(
    tmp_path, orchestrator, llama_server
):
    name = marker()
    script = f":lang python\n:max 8\n:multi\ndef {name}():\n    pass\n.\n:model nosuch\n"
    result = run(tmp_path, "--url", orchestrator.url, stdin=script)

    assert result.returncode == 0, result.stderr
    slot = slot_with(llama_server, "gemma3-270m", f"def {name}():\n    pass")
    assert slot is not None, "the multi-line prompt did not arrive intact"
    assert "\x1b" not in result.stdout + result.stderr
    assert result.stdout == slot["generated"] + ("" if slot["generated"].endswith("\n") else "\n")
    assert re.search(SUMMARY, result.stderr), result.stderr
    assert "error: unknown model nosuch; known: gemma, smol" in result.stderr


def test_launcher_without_a_venv_says_so_in_one_line(tmp_path):
    scripts = tmp_path / "install" / "scripts"
    scripts.mkdir(parents=True)
    shutil.copy2(LAUNCHER, scripts)  # with its mode: run as the role installs it
    result = subprocess.run(
        [str(scripts / LAUNCHER.name)], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"no Python environment at {tmp_path / 'install' / '.venv'}" in result.stderr
