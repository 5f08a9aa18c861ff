"""One REPL session: a submitted text is a command or a prompt; each failure is one line.

``Session.handle`` runs one submitted text and says whether to go on; ``run`` is the loop
around a reader (the terminal line editor, or plain lines from a pipe).
"""

from __future__ import annotations

from typing import Literal, Protocol

from cerebrum.repl import commands, report
from cerebrum.repl.client import Client
from cerebrum.repl.commands import (
    Action,
    AddContext,
    Command,
    CommandError,
    SetLanguage,
    SetMaxTokens,
    SetTemperature,
    UseModel,
)
from cerebrum.repl.errors import ReplError
from cerebrum.repl.render import Output, lexer_for
from cerebrum.repl.state import State, read_context

Status = Literal["ok", "failed", "stopped"]

MULTILINE_ON = 'multiline on: Enter adds a line; a line holding only "." (or Alt-Enter) sends'


class Reader(Protocol):
    def read(self) -> str:
        """The next submitted text; EOFError at the end, KeyboardInterrupt when abandoned."""
        ...


class Session:
    def __init__(self, client: Client, output: Output, state: State) -> None:
        self.client = client
        self.out = output
        self.state = state

    def run(self, reader: Reader) -> None:
        """Read and handle texts until :quit or the end of the input (Ctrl-D)."""
        while True:
            try:
                text = reader.read()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt: drop the line
            except EOFError:
                return
            try:
                if not self.handle(text):
                    return
            except KeyboardInterrupt:
                self.out.note("interrupted")

    def connect(self, announce: bool = True) -> bool:
        """Learn the models (checking the URL and key); False if the orchestrator cannot say.

        With ``announce`` the models, or the reason, are shown, and an unknown ``--model`` is
        dropped; without, nothing is shown (``--once`` leaves every error to the completion).
        """
        try:
            listing = self.client.get("/v1/models")
        except ReplError as exc:
            if announce:
                self.out.error(str(exc))
            return False
        self._learn(listing)
        if announce:
            if self.state.model is not None and self.state.model not in self.state.models:
                self.out.error(self._unknown(self.state.model))
                self.state.model = None
            self.out.note(f"models: {', '.join(self.state.models)}; {self.state.describe()}")
        return True

    def handle(self, text: str) -> bool:
        """Run one submitted text; False when the session should end."""
        if not text.strip():
            return True
        if not commands.is_command(text):
            self.complete(text)
            return True
        try:
            command = commands.parse(text)
        except CommandError as exc:
            self.out.error(str(exc))
            return True
        if command == Action("quit"):
            return False
        try:
            self.execute(command)
        except ReplError as exc:
            self.out.error(str(exc))
        return True

    def complete(self, prompt: str) -> Status:
        """Stream the completion of ``prompt``, then its summary (or one error line)."""
        try:
            completion = self.client.complete(self.state.body(prompt))
        except ReplError as exc:
            self.out.error(str(exc))
            return "failed"
        stopped = False
        try:
            with completion:
                self.out.begin(self.state.language)
                try:
                    for text in completion:
                        self.out.token(text)
                finally:
                    self.out.end()
        except KeyboardInterrupt:
            stopped = True
        except ReplError as exc:
            self.out.error(_with_request(str(exc), completion.request_id))
            return "failed"
        error = completion.error_line()
        if error is not None:
            self.out.error(_with_request(error, completion.request_id))
            return "failed"
        self.out.note(report.summary_line(completion.outcome(stopped), self.state.shown_model))
        return "stopped" if stopped else "ok"

    def execute(self, command: Command) -> None:
        """Run a command other than :quit (ReplError when the orchestrator cannot answer)."""
        state, out = self.state, self.out
        match command:
            case Action("help"):
                self._lines([*commands.HELP.splitlines(), f"now: {state.describe()}"])
            case Action("multi"):
                state.multiline = not state.multiline
                out.info(MULTILINE_ON if state.multiline else "multiline off: Enter sends")
            case Action("settings"):
                out.info(state.describe())
            case Action("stats"):
                self._lines(report.stats_lines(self.client.get("/v1/stats")))
            case Action("health"):
                health = self.client.get("/v1/vps/health", accept=(200, 503))
                self._lines(report.health_lines(health))
            case Action("models"):
                listing = self.client.get("/v1/models")
                self._learn(listing)
                self._lines(report.model_lines(listing, state.model))
            case Action("list-context"):
                self._lines(state.context or ["(no context files; :context PATH... attaches)"])
            case Action("clear-context"):
                state.context.clear()
                out.info("context cleared")
            case UseModel(name):
                self._learn(self.client.get("/v1/models"))
                if name not in state.models:
                    raise ReplError(self._unknown(name))
                state.model = name
                out.info(f"model {name}")
            case SetLanguage(name):
                state.language = name
                no_lexer = name is not None and lexer_for(name) is None
                out.info(
                    f"lang {name or 'auto'}" + (" (no highlighting for it)" if no_lexer else "")
                )
            case SetMaxTokens(value):
                state.max_tokens = value
                out.info(f"max {value}")
            case SetTemperature(value):
                state.temperature = value
                out.info(f"temp {'default' if value is None else f'{value:g}'}")
            case AddContext(paths):
                self._attach(paths)

    def _attach(self, paths: tuple[str, ...]) -> None:
        for path in paths:
            try:
                read_context(path)
            except ReplError as exc:
                self.out.error(str(exc))
                continue
            if path not in self.state.context:
                self.state.context.append(path)
        self.out.info(f"context: {', '.join(self.state.context) or '(none)'}")

    def _learn(self, listing: object) -> None:
        if isinstance(listing, dict):
            self.state.models = report.model_ids(listing)
            default = listing.get("default")
            self.state.default_model = default if isinstance(default, str) else None

    def _unknown(self, name: str) -> str:
        return f"unknown model {name}; known: {', '.join(self.state.models) or '(none)'}"

    def _lines(self, lines: list[str]) -> None:
        for line in lines:
            self.out.info(line)


def _with_request(line: str, request_id: str | None) -> str:
    return f"{line} (request {request_id})" if request_id else line
