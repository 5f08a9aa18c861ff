"""``cerebrum`` / ``python -m cerebrum``: read the settings, then serve the API under uvicorn.

Invalid settings end the process with exit status 2 and one line on stderr naming the
setting, e.g. ``cerebrum: invalid setting CEREBRUM_PORT: Input should be ...``.
``--check`` only validates the settings; with ``--env-file PATH`` it validates that file
instead of ``./.env`` (the CM4 role checks a new ``.env`` this way before installing it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from cerebrum import __version__
from cerebrum.settings import ENV_PREFIX, Settings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cerebrum", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cerebrum {__version__}")
    parser.add_argument("--check", action="store_true", help="validate the settings and exit")
    parser.add_argument(
        "--env-file", type=Path, help="read settings from this file instead of ./.env"
    )
    args = parser.parse_args(argv)

    if args.env_file is not None and not _readable(args.env_file):
        print(f"cerebrum: cannot read the settings file {args.env_file}", file=sys.stderr)
        return 2
    try:
        settings = load_settings(**({"_env_file": args.env_file} if args.env_file else {}))
    except (ValidationError, SettingsError, ValueError) as exc:
        print(f"cerebrum: invalid setting {describe_error(exc)}", file=sys.stderr)
        return 2
    if args.check:
        print(f"cerebrum: settings ok ({len(settings.models)} models, "
              f"{len(settings.backends)} backends)")  # fmt: skip
        return 0
    serve(settings)
    return 0


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


def serve(settings: Settings) -> None:
    # httpx imports its command-line client on import (click, and rich and pygments when
    # they are installed): megabytes of RSS the server never uses. Mark it unavailable.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

    import uvicorn

    from cerebrum import logs
    from cerebrum.api.main import create_app
    from cerebrum.server import uvicorn_config

    log_config = logs.configure(settings.log_level)
    config = uvicorn_config(
        settings,
        create_app(settings),
        log_config=log_config,
        access_log=False,  # the log-context middleware writes one JSON line per request
    )
    uvicorn.Server(config).run()


def describe_error(error: ValidationError | ValueError) -> str:
    """One line naming the setting that is wrong, e.g. ``CEREBRUM_PORT: Input should be ...``."""
    if not isinstance(error, ValidationError):
        return str(error)
    first = error.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    message = str(first["msg"]).removeprefix("Value error, ")
    if message.startswith(ENV_PREFIX):  # a model-level check already names its setting
        return message
    if not loc:
        return message
    name = ENV_PREFIX + loc[0].upper()
    where = ".".join(loc[1:])
    detail = f"{name}[{where}]" if where else name
    return f"{detail}: {message}"


if __name__ == "__main__":
    sys.exit(main())
