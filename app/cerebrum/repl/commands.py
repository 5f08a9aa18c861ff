"""The REPL's ``:commands``: parsed into small values, with one-line usage errors.

A submitted text is a command when it is one line starting with ``:``; anything else
(including a multi-line text starting with ``:``) is a prompt.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

MAX_TOKENS = 4096  # the API's bound (cerebrum.api.schemas.MAX_TOKENS)
MAX_TEMPERATURE = 2.0
MAX_LANGUAGE_CHARS = 32
N = TypeVar("N", int, float)
_LANG_USAGE = f"usage: :lang [NAME|auto] (NAME: up to {MAX_LANGUAGE_CHARS} characters)"
_MAX_USAGE = f"usage: :max N (a whole number from 1 to {MAX_TOKENS})"
_TEMP_USAGE = f"usage: :temp X (from 0 to {MAX_TEMPERATURE:g}) or :temp default"


class CommandError(ValueError):
    """A command that cannot be run as typed; the message says how to type it."""


ActionName = Literal[
    "help",  # :help
    "quit",  # :quit
    "multi",  # :multi
    "settings",  # :lang, :max, :temp without an argument
    "stats",  # :stats
    "health",  # :health
    "models",  # :model without a name
    "list-context",  # :context without a path
    "clear-context",  # :context clear
]


@dataclass(frozen=True, slots=True)
class Action:
    """A command without a value."""

    name: ActionName


@dataclass(frozen=True, slots=True)
class UseModel:
    name: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    name: str | None  # None: let the orchestrator detect it


@dataclass(frozen=True, slots=True)
class SetMaxTokens:
    value: int


@dataclass(frozen=True, slots=True)
class SetTemperature:
    value: float | None  # None: the backend's default


@dataclass(frozen=True, slots=True)
class AddContext:
    paths: tuple[str, ...]


Command = Action | UseModel | SetLanguage | SetMaxTokens | SetTemperature | AddContext

HELP = """\
:help                 this list
:model [NAME]         switch to model NAME (checked against /v1/models); alone: list the models
:lang [NAME|auto]     language sent with prompts (python, rust, ...) and used to highlight;
                      auto: let the orchestrator detect it
:multi                toggle multiline input: Enter adds a line; a line holding only "."
                      (or Alt-Enter, i.e. Esc then Enter) sends the prompt
:max [N]              max tokens to generate (1-4096)
:temp [X|default]     sampling temperature (0-2), or the backend's default
:context [PATH...]    attach files as context snippets; alone: list them; :context clear
:stats                the orchestrator's figures (/v1/stats)
:health               the backends as the orchestrator sees them (/v1/vps/health)
:quit                 leave (also Ctrl-D)
Ctrl-C stops a completion that is streaming and returns to the prompt."""

NAMES = (
    ":help", ":model", ":lang", ":multi", ":max", ":temp", ":context", ":stats", ":health",
    ":quit",
)  # fmt: skip


def is_command(text: str) -> bool:
    return text.lstrip().startswith(":") and "\n" not in text.strip()


def parse(text: str) -> Command:
    """The command typed as ``text`` (``is_command(text)`` must hold); CommandError if wrong."""
    try:
        words = shlex.split(text.strip())
    except ValueError as exc:
        raise CommandError(f"{text.strip()}: {exc}") from None
    name, args = words[0].lower(), words[1:]
    parser = _PARSERS.get(name)
    if parser is None:
        raise CommandError(f"unknown command {words[0]} (:help lists the commands)")
    return parser(args)


def _no_args(name: ActionName, usage: str) -> Callable[[list[str]], Command]:
    def parse_none(args: list[str]) -> Command:
        if args:
            raise CommandError(f"usage: {usage}")
        return Action(name)

    return parse_none


def _model(args: list[str]) -> Command:
    if len(args) > 1:
        raise CommandError("usage: :model [NAME]")
    return UseModel(args[0]) if args else Action("models")


def _setting(make: Callable[[str], Command], usage: str) -> Callable[[list[str]], Command]:
    """A parser for ``:NAME [VALUE]``: alone it shows the settings."""

    def parse_setting(args: list[str]) -> Command:
        if not args:
            return Action("settings")
        if len(args) > 1:
            raise CommandError(usage)
        return make(args[0])

    return parse_setting


def _language(text: str) -> Command:
    if len(text) > MAX_LANGUAGE_CHARS:
        raise CommandError(_LANG_USAGE)
    name = text.lower()
    return SetLanguage(None if name == "auto" else name)


def max_tokens(text: str) -> int:
    """A :max or --max-tokens value (CommandError when out of range)."""
    return _in_range(text, int, 1, MAX_TOKENS, _MAX_USAGE)


def temperature(text: str) -> float | None:
    """A :temp or --temperature value; None for ``default`` (CommandError when out of range)."""
    if text.lower() == "default":
        return None
    return _in_range(text, float, 0.0, MAX_TEMPERATURE, _TEMP_USAGE)


def _in_range(text: str, convert: Callable[[str], N], low: N, high: N, usage: str) -> N:
    try:
        value = convert(text)
    except ValueError:
        raise CommandError(usage) from None
    if not low <= value <= high:  # also refuses nan
        raise CommandError(usage)
    return value


def _context(args: list[str]) -> Command:
    if not args:
        return Action("list-context")
    if args == ["clear"]:
        return Action("clear-context")
    return AddContext(tuple(args))


_QUIT = _no_args("quit", ":quit")
_HELP = _no_args("help", ":help")

_PARSERS: dict[str, Callable[[list[str]], Command]] = {
    ":help": _HELP,
    ":h": _HELP,
    ":?": _HELP,
    ":quit": _QUIT,
    ":q": _QUIT,
    ":exit": _QUIT,
    ":multi": _no_args("multi", ":multi"),
    ":stats": _no_args("stats", ":stats"),
    ":health": _no_args("health", ":health"),
    ":model": _model,
    ":lang": _setting(_language, _LANG_USAGE),
    ":max": _setting(lambda text: SetMaxTokens(max_tokens(text)), _MAX_USAGE),
    ":temp": _setting(lambda text: SetTemperature(temperature(text)), _TEMP_USAGE),
    ":context": _context,
}
