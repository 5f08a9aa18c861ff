"""The REPL's output: completions as they stream, and notes (summaries, errors, listings).

On a colour terminal (a tty, ``TERM`` not ``dumb``, no ``NO_COLOR``) a completion is
highlighted with pygments for the ``:lang`` language, notes are dim and errors red; anywhere
else (a pipe, a file) everything is written plain, so the output can be piped.

Streaming text is highlighted as it comes: each new piece is lexed with the text before it
(from a line start up to ``CONTEXT_CHARS`` back) and written once; a trailing partial word is
held back until the next piece shows where it ends, so ``de`` + ``f`` is coloured as ``def``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

import pygments
from pygments.formatter import Formatter
from pygments.formatters import TerminalFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

CONTEXT_CHARS = 2000
DIM = "\x1b[2m"
RED = "\x1b[31m"
RESET = "\x1b[0m"


def color_wanted(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether ``stream`` is a terminal that should get colours (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


def lexer_for(language: str | None) -> Lexer | None:
    """The pygments lexer for a ``:lang`` name, None when there is none."""
    if not language:
        return None
    try:
        # Lex the text as it is: no stripped or added newlines, so offsets stay exact.
        return get_lexer_by_name(language, stripnl=False, ensurenl=False, stripall=False)
    except ClassNotFound:
        return None


class Highlighter:
    """Turns streamed pieces of code into ANSI-coloured text, each character written once."""

    def __init__(self, lexer: Lexer, formatter: Formatter[str] | None = None) -> None:
        self._lexer = lexer
        self._formatter: Formatter[str] = formatter or TerminalFormatter()
        self._text = ""
        self._written = 0  # characters of _text already returned

    def feed(self, piece: str) -> str:
        """What to write now for ``piece`` (maybe less: a partial word waits for its end)."""
        self._text += piece
        end = len(self._text)
        while end > self._written and (self._text[end - 1].isalnum() or self._text[end - 1] == "_"):
            end -= 1
        return self._render(end)

    def flush(self) -> str:
        """Whatever was held back."""
        return self._render(len(self._text))

    def _render(self, end: int) -> str:
        start = self._written
        if end <= start:
            return ""
        base = self._text.rfind("\n", 0, max(0, start - CONTEXT_CHARS)) + 1
        pieces = []
        for index, kind, value in self._lexer.get_tokens_unprocessed(self._text[base:end]):
            offset = base + index
            if offset + len(value) > start:
                pieces.append((kind, value[max(0, start - offset) :]))
        self._written = end
        return pygments.format(pieces, self._formatter)


class Output:
    """Completions go to ``out``; notes go to ``notes`` (the same terminal, or stderr)."""

    def __init__(
        self,
        out: TextIO,
        notes: TextIO,
        *,
        color: bool = False,
        note_color: bool | None = None,
        terminate: bool = True,
        quiet: bool = False,
    ) -> None:
        self._out = out
        self._notes = notes
        self._color = color
        self._note_color = color if note_color is None else note_color
        self._terminate = terminate  # end a completion with a newline when it has none
        self._quiet = quiet  # no notes (summaries, listings); errors still
        self._highlighter: Highlighter | None = None
        self._at_line_start = True

    def begin(self, language: str | None) -> None:
        """A completion starts; highlight it when colours are on and the language is known."""
        lexer = lexer_for(language) if self._color else None
        self._highlighter = Highlighter(lexer) if lexer is not None else None

    def token(self, text: str) -> None:
        self._write(self._highlighter.feed(text) if self._highlighter else text, text)

    def end(self) -> None:
        """The completion is over (finished, failed or stopped): write what was held back."""
        if self._highlighter is not None:
            held = self._highlighter.flush()
            self._write(held, held)
            self._highlighter = None
        if self._terminate and not self._at_line_start:
            self._write("\n", "\n")

    def note(self, line: str) -> None:
        if not self._quiet:
            self._line(line, DIM)

    def info(self, line: str) -> None:
        self._line(line, "")

    def error(self, line: str) -> None:
        self._line(f"error: {line}", RED)

    def _write(self, shown: str, text: str) -> None:
        if not text:
            return
        self._out.write(shown)
        self._out.flush()
        self._at_line_start = text.endswith("\n")

    def _line(self, line: str, style: str) -> None:
        if self._notes is self._out and not self._at_line_start:
            self._out.write("\n")
            self._at_line_start = True
        if self._note_color and style:
            line = f"{style}{line}{RESET}"
        self._notes.write(line + "\n")
        self._notes.flush()
