"""Streaming output: highlighting piece by piece without changing the text, plain when piped."""

from __future__ import annotations

import io
import re

import pytest
from cerebrum.repl.render import Highlighter, Output, color_wanted, lexer_for

SGR = re.compile(r"\x1b\[[0-9;]*m")
CODE = (
    'def fibonacci(n):\n    """Return the n-th number."""\n    return n if n < 2 else fib(n - 1)\n'
)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_highlighted_stream_shows_exactly_the_streamed_text(size):
    highlighter = Highlighter(lexer_for("python"))
    shown = "".join(highlighter.feed(piece) for piece in pieces(CODE, size)) + highlighter.flush()
    assert SGR.sub("", shown) == CODE
    assert SGR.search(shown), "no colour at all"


def test_a_keyword_split_across_pieces_is_coloured_as_one_word():
    whole = Highlighter(lexer_for("python"))
    split = Highlighter(lexer_for("python"))
    at_once = whole.feed("def f")
    streamed = split.feed("de") + split.feed("f f")
    assert streamed == at_once, (streamed, at_once)


def test_a_partial_word_waits_for_its_end_and_is_flushed_at_the_end():
    highlighter = Highlighter(lexer_for("python"))
    assert highlighter.feed("retu") == ""
    assert SGR.sub("", highlighter.feed("rn x")) == "return "
    assert SGR.sub("", highlighter.flush()) == "x"


def test_unknown_language_and_auto_have_no_lexer():
    assert lexer_for("no-such-language") is None
    assert lexer_for(None) is None


def test_plain_output_writes_tokens_as_they_come_and_notes_elsewhere():
    out, notes = io.StringIO(), io.StringIO()
    output = Output(out, notes, color=False)
    output.begin("python")
    output.token("def")
    assert out.getvalue() == "def"
    output.token(" f():")
    output.end()
    output.note("-- summary")
    output.error("broken")
    assert out.getvalue() == "def f():\n"
    assert notes.getvalue() == "-- summary\nerror: broken\n"


def test_piped_once_output_keeps_the_completion_exact():
    out = io.StringIO()
    output = Output(out, io.StringIO(), terminate=False)
    output.begin(None)
    output.token("x = 1")
    output.end()
    assert out.getvalue() == "x = 1"


def test_notes_on_the_same_terminal_start_on_a_new_line():
    term = Tty()
    output = Output(term, term, color=True, terminate=False)
    output.begin("python")
    output.token("x = 1")
    output.end()
    output.error("stream failed")
    assert SGR.sub("", term.getvalue()) == "x = 1\nerror: stream failed\n"
    assert "\x1b[31merror: stream failed" in term.getvalue()


def test_quiet_output_drops_notes_but_not_errors():
    notes = io.StringIO()
    output = Output(io.StringIO(), notes, quiet=True)
    output.note("-- 3 tokens")
    output.error("401 unauthorized")
    assert notes.getvalue() == "error: 401 unauthorized\n"


@pytest.mark.parametrize(
    ("tty", "environ", "wanted"),
    [
        (True, {"TERM": "xterm-256color"}, True),
        (False, {"TERM": "xterm-256color"}, False),
        (True, {"TERM": "xterm", "NO_COLOR": "1"}, False),
        (True, {"TERM": "dumb"}, False),
    ],
)
def test_colour_only_on_a_real_terminal_without_no_color(tty, environ, wanted):
    stream = Tty() if tty else io.StringIO()
    assert color_wanted(stream, environ) is wanted
