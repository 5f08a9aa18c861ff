"""Reading submitted texts from a pipe, and where the history is kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cerebrum.repl.editor import PlainReader, history_path
from cerebrum.repl.state import State


def reader(text: str, multiline: bool = False) -> PlainReader:
    return PlainReader(io.StringIO(text), State(multiline=multiline))


def test_piped_lines_are_one_text_each_until_the_end():
    texts = reader("def f():\r\n:max 3\n")
    assert [texts.read(), texts.read()] == ["def f():", ":max 3"]
    with pytest.raises(EOFError):
        texts.read()


def test_piped_multiline_prompt_ends_at_a_lone_dot_and_keeps_its_lines_exactly():
    texts = reader("def f(x):\n\n    return x  \n .\nnext\n", multiline=True)
    assert texts.read() == "def f(x):\n\n    return x  "
    assert texts.read() == "next"


def test_piped_multiline_command_is_sent_alone():
    texts = reader(":multi\nx = 1\n.\n", multiline=True)
    assert texts.read() == ":multi"


def test_history_lives_under_xdg_state_home_or_the_home_default():
    assert history_path({"XDG_STATE_HOME": "/var/state"}) == Path(
        "/var/state/cerebrum/repl_history"
    )
    default = Path.home() / ".local" / "state" / "cerebrum" / "repl_history"
    assert history_path({}) == default
    assert history_path({"XDG_STATE_HOME": "relative/dir"}) == default
