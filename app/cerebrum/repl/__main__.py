"""``cerebrum-repl`` / ``python -m cerebrum.repl``: a streaming terminal client.

Interactive on a terminal (line editing, history, highlighting); plain lines in and plain
completions out when piped; ``--once PROMPT`` for scripts. Exit status: 0, 1 when the
completion failed (``--once``), 2 for a usage or configuration error, 130 after Ctrl-C.
Usage, commands and configuration: docs/repl.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

from cerebrum import __version__
from cerebrum.repl import commands
from cerebrum.repl.client import Client
from cerebrum.repl.config import KEY_VARIABLE, URL_VARIABLE, Config, ConfigError, resolve
from cerebrum.repl.editor import PlainReader, TerminalReader, history_path, open_history
from cerebrum.repl.render import Output, color_wanted
from cerebrum.repl.session import Session, Status
from cerebrum.repl.state import DEFAULT_MAX_TOKENS, State

PROG = "cerebrum-repl"
EXIT: dict[Status, int] = {"ok": 0, "failed": 1, "stopped": 130}

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = resolve(url=args.url, key=args.key, environ=os.environ, env_file=args.env_file)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    state = State(
        model=args.model,
        language=args.lang,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        context=list(args.context),
    )
    try:
        with Client(config.url, config.key) as client:
            if args.once is not None:
                return once(client, state, args)
            return interactive(client, state, config, args)
    except KeyboardInterrupt:
        return EXIT["stopped"]


def once(client: Client, state: State, args: argparse.Namespace) -> int:
    """Stream one completion to stdout; the summary (unless --quiet) and errors to stderr."""
    prompt = sys.stdin.read() if args.once == "-" else args.once
    if not prompt.strip():
        print(f"{PROG}: the prompt is empty", file=sys.stderr)
        return 2
    output = Output(
        sys.stdout,
        sys.stderr,
        color=_color(sys.stdout, args),
        note_color=_color(sys.stderr, args),
        terminate=sys.stdout.isatty(),  # a pipe gets the completion exactly
        quiet=args.quiet,
    )
    session = Session(client, output, state)
    if not args.quiet and state.model is None:
        session.connect(announce=False)  # the default model's name, for the summary
    return EXIT[session.complete(prompt)]


def interactive(client: Client, state: State, config: Config, args: argparse.Namespace) -> int:
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    if terminal:
        output = Output(sys.stdout, sys.stdout, color=_color(sys.stdout, args), quiet=args.quiet)
        reader: TerminalReader | PlainReader = TerminalReader(
            state, open_history(history_path(os.environ))
        )
    else:  # piped: completions alone on stdout, everything else on stderr
        output = Output(sys.stdout, sys.stderr, quiet=args.quiet)
        reader = PlainReader(sys.stdin, state, sys.stderr if sys.stdin.isatty() else None)
    output.note(f"{PROG} {__version__}: {config.describe()}")
    session = Session(client, output, state)
    session.connect()
    if terminal:
        output.note(":help lists the commands, Ctrl-D quits")
    session.run(reader)
    return 0


def _color(stream: TextIO, args: argparse.Namespace) -> bool:
    return not args.no_color and color_wanted(stream, os.environ)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Streaming terminal client for the Cerebrum orchestrator (docs/repl.md).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    where = parser.add_argument_group("orchestrator (flags beat environment beat --env-file)")
    where.add_argument(
        "--url",
        help=f"orchestrator URL (env {URL_VARIABLE}; else from --env-file; "
        "else http://127.0.0.1:7000)",
    )
    where.add_argument(
        "--key",
        help=f"client key (env {KEY_VARIABLE}; else the first of --env-file's "
        "CEREBRUM_CLIENT_KEYS); other users can see it in ps, so prefer the environment",
    )
    where.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="the orchestrator's .env: CEREBRUM_HOST, CEREBRUM_PORT, CEREBRUM_CLIENT_KEYS",
    )
    prompt = parser.add_argument_group("prompts (as :model, :lang, :max, :temp, :context)")
    prompt.add_argument("--model", help="model alias (default: the orchestrator's default)")
    prompt.add_argument("--lang", type=str.lower, help="language, e.g. python (default: detected)")
    prompt.add_argument(
        "--max-tokens",
        type=_checked(commands.max_tokens),
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help=f"tokens to generate, 1-{commands.MAX_TOKENS} (default {DEFAULT_MAX_TOKENS})",
    )
    prompt.add_argument(
        "--temperature",
        type=_checked(commands.temperature),
        metavar="X",
        help="sampling temperature, 0-2 (default: the backend's)",
    )
    prompt.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="PATH",
        help="attach a file as context (repeatable)",
    )
    mode = parser.add_argument_group("output")
    mode.add_argument(
        "--once", metavar="PROMPT", help="complete PROMPT ('-': from stdin), print it and exit"
    )
    mode.add_argument(
        "-q", "--quiet", action="store_true", help="no banner or summary (errors still shown)"
    )
    mode.add_argument("--no-color", action="store_true", help="never colour the output")
    return parser


def _checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a commands validator, reporting its usage message."""

    def convert(text: str) -> T:
        try:
            return check(text)
        except commands.CommandError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("usage: ")) from None

    return convert


if __name__ == "__main__":
    sys.exit(main())
