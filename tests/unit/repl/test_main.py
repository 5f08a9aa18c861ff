"""repl/__main__.py: the command line's exit statuses and one-line errors (no orchestrator
needed: these end before a completion, or at an address where nothing listens; the streamed
sessions run against a real orchestrator in tests/integration/repl)."""

from __future__ import annotations

import pytest
from cerebrum.repl.__main__ import main

from harness.ports import free_port


@pytest.fixture(autouse=True)
def no_environment(monkeypatch, tmp_path):
    for name in ("CEREBRUM_URL", "CEREBRUM_CLIENT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_an_empty_prompt_is_a_usage_error_exit_2(capsys):
    assert main(["--once", "   ", "--url", nowhere()]) == 2
    assert capsys.readouterr().err == "cerebrum-repl: the prompt is empty\n"


def test_a_url_that_is_not_http_is_a_configuration_error_exit_2(capsys):
    assert main(["--once", "x", "--url", "ftp://h/"]) == 2
    assert capsys.readouterr().err.startswith("cerebrum-repl: not an http(s) URL")


def test_max_tokens_out_of_range_is_refused_with_the_range(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--max-tokens", "0", "--once", "x"])
    assert exited.value.code == 2
    assert "--max-tokens" in capsys.readouterr().err


def test_a_completion_that_fails_exits_1_with_one_line_on_stderr(capsys):
    url = nowhere()
    assert main(["--once", "def f():", "--url", url, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().count("\n") == 0
    assert f"cannot connect to {url}" in captured.err
