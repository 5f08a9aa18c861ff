"""``cerebrum usage`` (or ``cerebrum-usage``): usage per client key name, model and UTC day,
read straight from the usage database, read-only (the service keeps running and writing).

The database: ``--db PATH``, else CEREBRUM_USAGE_DB (environment, then ./.env), else
usage.sqlite3 in $STATE_DIRECTORY, else /var/lib/cerebrum/usage.sqlite3 (the role's place).
Exit status 0, or 2 with one line on stderr when the database cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

from cerebrum.core.usage import Row, read_rows, reading, today

DEFAULT_DB = Path("/var/lib/cerebrum/usage.sqlite3")
COLUMNS = (
    ("day", "day"),
    ("key", "key"),
    ("model", "model"),
    ("requests", "requests"),
    ("prompt_tokens", "prompt"),
    ("cached_tokens", "cached"),
    ("completion_tokens", "completion"),
    ("superseded", "superseded"),
    ("errors", "errors"),
    ("shed", "shed"),
    ("ttft_p50_ms", "ttft p50 ms"),
    ("ttft_p90_ms", "ttft p90 ms"),
    ("shown", "shown"),
    ("accepted_whole", "accepted"),
    ("accepted_line", "first line"),
    ("ignored", "ignored"),
)


def database(given: Path | None) -> Path:
    """Where the usage database is (see the module's docstring)."""
    if given is not None:
        return given
    named = os.environ.get("CEREBRUM_USAGE_DB") or dotenv_values(".env").get("CEREBRUM_USAGE_DB")
    if named:
        return Path(named)
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) / "usage.sqlite3" if state else DEFAULT_DB


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table, one line per day, key and model."""
    cells = [[title for _, title in COLUMNS]]
    for row in rows:
        values = row.as_dict()
        cells.append(["-" if values[name] is None else str(values[name]) for name, _ in COLUMNS])
    widths = [max(len(line[index]) for line in cells) for index in range(len(COLUMNS))]
    lines = []
    for line in cells:
        text = [
            cell.ljust(width) if index < 3 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(text).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cerebrum usage", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--db", type=Path, help="the usage database (default: see --help)")
    parser.add_argument("--days", type=int, default=7, help="days back from today (UTC), >= 1")
    parser.add_argument("--key", help="only this key name")
    parser.add_argument("--model", help="only this model alias")
    parser.add_argument("--json", action="store_true", help="JSON rows instead of a table")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days: must be 1 or more")
    path = database(args.db)
    since = today(time.time() - (args.days - 1) * 86_400)
    try:
        with reading(path) as db:
            rows = read_rows(db, since, args.key, args.model)
    except sqlite3.Error as exc:
        print(f"cerebrum usage: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    elif rows:
        print(table(rows))
    else:
        print(f"no usage since {since} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
