"""repl/state.py: what a prompt is sent with, and the request body made from it."""

from __future__ import annotations

import pytest
from cerebrum.repl.errors import ReplError
from cerebrum.repl.state import MAX_CONTEXT_CHARS, State


def test_request_body_carries_only_the_settings_that_are_set(tmp_path):
    snippet = tmp_path / "util.py"
    snippet.write_text("def helper():\n    return 1\n")
    state = State(model="smol", language="python", max_tokens=64, temperature=0.0)
    state.context.append(str(snippet))
    assert state.body("def f():") == {
        "prompt": "def f():",
        "max_tokens": 64,
        "model": "smol",
        "language": "python",
        "temperature": 0.0,
        "context": [{"path": str(snippet), "text": "def helper():\n    return 1\n"}],
    }
    assert State().body("x") == {"prompt": "x", "max_tokens": 256}


def test_an_attached_file_that_is_gone_fails_the_request_in_one_line(tmp_path):
    state = State(context=[str(tmp_path / "gone.py")])
    with pytest.raises(ReplError, match=r"^cannot read .*gone\.py: No such file"):
        state.body("x")


def test_an_attached_file_that_is_not_utf8_is_refused_by_name(tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ReplError, match=r"image\.png: not UTF-8 text$"):
        State(context=[str(binary)]).body("x")


def test_an_attached_file_over_the_apis_bound_is_refused_with_its_size(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * (MAX_CONTEXT_CHARS + 1))
    with pytest.raises(ReplError, match=rf"big\.txt: {MAX_CONTEXT_CHARS + 1} characters, more"):
        State(context=[str(big)]).body("x")


def test_the_shown_model_is_the_orchestrators_default_until_one_is_chosen():
    state = State(default_model="gemma")
    assert state.shown_model == "gemma"
    state.model = "smol"
    assert state.shown_model == "smol"


def test_describe_lists_every_setting_on_one_line():
    state = State(model="smol", language="python", max_tokens=64, temperature=0.2)
    state.context.append("a.py")
    assert state.describe() == (
        "model smol, lang python, max 64, temp 0.2, multiline off, context 1 file"
    )


def test_describe_says_default_and_auto_for_what_is_unset():
    assert State().describe() == (
        "model default, lang auto, max 256, temp default, multiline off, context 0 files"
    )
