"""Reading what the user submits: a line editor on a terminal, plain lines from a pipe.

On a terminal (prompt-toolkit): Emacs-style line editing, history kept across sessions in
``$XDG_STATE_HOME/cerebrum/repl_history`` (default ``~/.local/state/cerebrum/``), Tab
completes commands and model names. In multiline mode Enter adds a line, and a line holding
only ``.`` or Alt-Enter (Esc, then Enter) sends; a one-line ``:command`` is sent by Enter in
either mode. From a pipe, one line is one text; in multiline mode the lines up to one holding
only ``.`` (or the end of the input) are one prompt.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from cerebrum.repl import commands
from cerebrum.repl.state import State

PROMPT = ">>> "
CONTINUATION = "... "
END_LINE = "."
INDENT = "    "


def history_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/cerebrum/repl_history``, ``~/.local/state`` when unset or relative."""
    base = environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "cerebrum" / "repl_history"


def open_history(path: Path) -> History:
    """The history file (private: created 0600 in a 0700 directory); in memory if impossible."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


class TerminalReader:
    """prompt-toolkit's line editor, multiline when the session's state says so."""

    def __init__(self, state: State, history: History) -> None:
        def words() -> list[str]:
            return [*commands.NAMES, *(f":model {name}" for name in state.models)]

        self._session: PromptSession[str] = PromptSession(
            history=history,
            multiline=Condition(lambda: state.multiline),
            key_bindings=_bindings(state),
            prompt_continuation=CONTINUATION,
            completer=WordCompleter(words, sentence=True),
            complete_while_typing=False,
            enable_open_in_editor=False,
        )

    def read(self) -> str:
        return self._session.prompt(PROMPT)


class PlainReader:
    """Lines from a stream; ``prompt_to`` shows the prompt (a terminal whose output is piped)."""

    def __init__(self, stream: TextIO, state: State, prompt_to: TextIO | None = None) -> None:
        self._stream = stream
        self._state = state
        self._prompt_to = prompt_to

    def read(self) -> str:
        first = self._line(PROMPT)
        if not self._state.multiline or commands.is_command(first):
            return first
        lines: list[str] = []
        line = first
        while not _is_end_line(line):
            lines.append(line)
            try:
                line = self._line(CONTINUATION)
            except EOFError:
                break
        return "\n".join(lines)

    def _line(self, prompt: str) -> str:
        if self._prompt_to is not None:
            self._prompt_to.write(prompt)
            self._prompt_to.flush()
        line = self._stream.readline()
        if not line:
            raise EOFError
        return line.removesuffix("\n").removesuffix("\r")


def _bindings(state: State) -> KeyBindings:
    bindings = KeyBindings()
    multiline = Condition(lambda: state.multiline)

    @Condition
    def sends() -> bool:
        """Enter sends in multiline mode: on a lone "." last line, or for one :command."""
        document = _document()
        on_end_line = document.is_cursor_at_the_end and _is_end_line(document.current_line)
        return on_end_line or commands.is_command(document.text)

    @Condition
    def indents() -> bool:
        return not _document().text.lstrip().startswith(":")

    @bindings.add("enter", filter=multiline & sends)
    def _send(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        lines = buffer.text.split("\n")
        if _is_end_line(lines[-1]):
            lines.pop()
        buffer.document = Document("\n".join(lines))
        buffer.validate_and_handle()

    @bindings.add("enter", filter=multiline & ~sends)
    def _newline(event: KeyPressEvent) -> None:
        # A bare newline: prompt-toolkit's own copies the previous line's indentation, which
        # would change typed (not bracket-pasted) code.
        event.current_buffer.insert_text("\n")

    @bindings.add("tab", filter=indents)
    def _indent(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text(INDENT)

    return bindings


def _is_end_line(line: str) -> bool:
    return line.strip() == END_LINE


def _document() -> Document:
    return get_app().current_buffer.document
