"""Parsing the REPL's :commands."""

from __future__ import annotations

import pytest
from cerebrum.repl.commands import (
    Action,
    AddContext,
    CommandError,
    SetLanguage,
    SetMaxTokens,
    SetTemperature,
    UseModel,
    is_command,
    parse,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        (":help", Action("help")),
        (":h", Action("help")),
        (":quit", Action("quit")),
        (":q", Action("quit")),
        (":exit", Action("quit")),
        (":multi", Action("multi")),
        (":stats", Action("stats")),
        (":health", Action("health")),
        (":model", Action("models")),
        (":model qwen_7b", UseModel("qwen_7b")),
        (":lang Python", SetLanguage("python")),
        (":lang auto", SetLanguage(None)),
        (":lang", Action("settings")),
        (":max 128", SetMaxTokens(128)),
        (":max", Action("settings")),
        (":temp 0.2", SetTemperature(0.2)),
        (":temp default", SetTemperature(None)),
        (":temp 0", SetTemperature(0.0)),
        (":context", Action("list-context")),
        (":context clear", Action("clear-context")),
        (":context a.py 'my dir/b.py'", AddContext(("a.py", "my dir/b.py"))),
        ("  :MODEL   smol  ", UseModel("smol")),
    ],
)
def test_commands_parse_into_their_values(text, command):
    assert parse(text) == command


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":max 0", "usage: :max N"),
        (":max 4097", "usage: :max N"),
        (":max ten", "usage: :max N"),
        (":max 1 2", "usage: :max N"),
        (":temp 2.5", "usage: :temp X"),
        (":temp -1", "usage: :temp X"),
        (":temp nan", "usage: :temp X"),
        (":temp warm", "usage: :temp X"),
        (":model a b", "usage: :model [NAME]"),
        (":lang " + "x" * 33, "usage: :lang"),
        (":multi on", "usage: :multi"),
        (":quit now", "usage: :quit"),
        (":frobnicate", "unknown command :frobnicate (:help lists the commands)"),
        (":context 'unclosed", "No closing quotation"),
    ],
)
def test_wrong_commands_say_how_to_type_them(text, message):
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        (":help", True),
        ("  :max 3", True),
        (":model\n", True),
        ("def f():", False),
        ("x = y[1:2]", False),
        (":not\na command", False),  # a multi-line text is always a prompt
    ],
)
def test_only_one_line_starting_with_a_colon_is_a_command(text, command):
    assert is_command(text) is command
