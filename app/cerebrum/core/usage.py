"""Usage per client key name, model and UTC day, kept in SQLite and written off the request path.

A request's figures (``Record``) go into a bounded queue; one writer thread drains it, adds
the records up per (day, key, model) and writes the totals in one transaction at most once
per ``flush_interval``. ``record`` never blocks: a full queue counts a drop. The database
is in WAL mode with ``synchronous=FULL``: a committed batch survives a power cut, so a crash
loses at most the records of the last interval. A database that cannot be written (corrupt,
locked, its directory missing) never stops a request: the totals stay pending in memory and
are written once it can be, ``problem`` says why in /health and the log says so once per
change. Rows older than ``retention_days`` are deleted at start and once a day.

Memory: the queue holds at most ``queue_size`` records; the pending totals at most
MAX_PENDING rows (one per day, key and model since the last write; beyond, records are
dropped and counted), each with a fixed TTFT histogram of len(TTFT_BOUNDS_MS) + 1 counts.

Time to first token is kept as a histogram per row (log-spaced buckets, each 25 % wider than
the one before, 1 ms to ~137 s), so its p50 and p90 add up across batches, restarts and
days; a percentile is reported as its bucket's upper bound (at most 25 % above the truth).
"""

from __future__ import annotations

import bisect
import datetime
import json
import logging
import math
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated

from pydantic import Field

log = logging.getLogger("cerebrum.usage")

TTFT_BOUNDS_MS = tuple(round(1.25**i, 3) for i in range(54))  # 1 ms .. ~137 s
COUNTS = (
    "requests",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "superseded",
    "errors",
    "shed",
    "shown",
    "accepted_whole",
    "accepted_line",
    "ignored",
)
QUEUE_SIZE = 10_000
MAX_PENDING = 4096
MAX_BATCH = 1000
FLUSH_INTERVAL = 1.0
PRUNE_INTERVAL = 86_400.0
RECENT_ERRORS = 50  # errors kept in memory for the dashboard
NO_MODEL = "-"  # a request that never reached a model (shed, refused, invalid)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS usage (
    day TEXT NOT NULL,
    key_name TEXT NOT NULL,
    model TEXT NOT NULL,
    {", ".join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in COUNTS)},
    ttft_histogram TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (day, key_name, model)
) WITHOUT ROWID
"""
_UPSERT = (
    f"INSERT INTO usage (day, key_name, model, {', '.join(COUNTS)}, ttft_histogram) "
    f"VALUES ({', '.join('?' * (len(COUNTS) + 4))}) "
    "ON CONFLICT (day, key_name, model) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in COUNTS)
    + ", ttft_histogram = excluded.ttft_histogram"
)


def today(now: float | None = None) -> str:
    """The UTC day of ``now`` (default: the present), as usage rows name it."""
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.UTC)
    return moment.date().isoformat()


def ttft_bucket(seconds: float) -> int:
    return bisect.bisect_left(TTFT_BOUNDS_MS, seconds * 1000)


def percentile_ms(histogram: Iterable[int], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q``-th percentile (nearest rank)."""
    counts = list(histogram)
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= rank:
            return TTFT_BOUNDS_MS[min(index, len(TTFT_BOUNDS_MS) - 1)]
    return TTFT_BOUNDS_MS[-1]


@dataclass(slots=True)
class Record:
    """One request's share of a usage row."""

    key: str
    model: str = NO_MODEL
    day: str = field(default_factory=today)
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    superseded: int = 0
    errors: int = 0
    shed: int = 0
    shown: int = 0
    accepted_whole: int = 0
    accepted_line: int = 0
    ignored: int = 0
    ttft: float | None = None  # seconds


@dataclass(frozen=True, slots=True)
class Row:
    """One day of one key with one model, as stored (and as the CLI and /v1/usage show it;
    the descriptions are /v1/usage's documentation)."""

    day: Annotated[str, Field(description="UTC day, YYYY-MM-DD.")]
    key: Annotated[
        str, Field(description="The client key's name (loopback: keyless local clients).")
    ]
    model: Annotated[
        str, Field(description="Model alias; - for a request that reached none (shed).")
    ]
    requests: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    superseded: int
    errors: int
    shed: Annotated[int, Field(description="Refused by the key's own limit or by load shedding.")]
    shown: Annotated[int, Field(description="Suggestions judged by the session's next request.")]
    accepted_whole: int
    accepted_line: int
    ignored: int
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None

    def as_dict(self) -> dict[str, str | int | float | None]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True, slots=True)
class RecentError:
    time: Annotated[str, Field(description="UTC, ISO 8601.")]
    key: str
    model: str
    error: Annotated[str, Field(description="The error type, or the HTTP status before any model.")]


class KeyTotals:
    """Each key's and model's counts since the process started (what /metrics shows), kept on
    the event loop. Memory: one row per (key name, model) seen; names come from the configured
    keys (or ``loopback``) and models from the configured aliases (or NO_MODEL), so the rows
    are bounded by the configuration; and the last RECENT_ERRORS errors."""

    def __init__(self, recent: int = RECENT_ERRORS) -> None:
        self.rows: dict[tuple[str, str], list[int]] = {}
        self.recent_errors: deque[RecentError] = deque(maxlen=recent)  # the last, oldest first

    def add(self, record: Record, error: str | None = None) -> None:
        """Count ``record``; an error record is also kept among the recent ones, as ``error``."""
        if record.errors:
            moment = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            self.recent_errors.append(
                RecentError(moment, record.key, record.model, error or "error")
            )
        counts = self.rows.get((record.key, record.model))
        if counts is None:
            counts = self.rows[record.key, record.model] = [0] * len(COUNTS)
        for index, name in enumerate(COUNTS):
            counts[index] += getattr(record, name)


class _Totals:
    __slots__ = ("counts", "ttft")

    def __init__(self) -> None:
        self.counts = [0] * len(COUNTS)
        self.ttft = [0] * (len(TTFT_BOUNDS_MS) + 1)

    def add(self, record: Record) -> None:
        for index, name in enumerate(COUNTS):
            self.counts[index] += getattr(record, name)
        if record.ttft is not None:
            self.ttft[ttft_bucket(record.ttft)] += 1


class UsageStore:
    """The usage database and its writer thread (``start`` / ``close``)."""

    def __init__(
        self,
        path: Path,
        retention_days: int,
        *,
        queue_size: int = QUEUE_SIZE,
        flush_interval: float = FLUSH_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self.flush_interval = flush_interval
        self._dropped_full = 0  # records lost to a full queue (request side)
        self._dropped_pending = 0  # ... to too many pending rows (writer side)
        self.written = 0  # records written to the database
        self.batches = 0  # transactions that wrote them
        self.problem: str | None = None  # why the database cannot be written now
        self._clock = clock
        self._queue: queue.Queue[Record | None] = queue.Queue(queue_size)
        self._pending: dict[tuple[str, str, str], _Totals] = {}
        self._pending_records = 0
        self._db: sqlite3.Connection | None = None
        self._pruned_at = -math.inf
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ request side

    def record(self, record: Record) -> None:
        """Queue ``record`` for the writer; never blocks (a full queue counts a drop)."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped_full += 1

    @property
    def dropped(self) -> int:
        """Records lost: to a full queue, or to too many rows pending an unwritable database."""
        return self._dropped_full + self._dropped_pending

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cerebrum-usage", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and pending, then stop the writer."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.error("usage: writer did not drain its queue; the last records are lost")
            return
        self._thread.join(timeout)
        self._thread = None
        if self._pending_records:
            log.error(
                "usage: records not written at shutdown (the database could not be written)",
                extra={"records": self._pending_records, "error": self.problem},
            )

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        running = True
        while running:
            deadline = time.monotonic() + self.flush_interval
            running = self._collect(deadline)
            self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def drain(self) -> None:
        """Add up what is queued now, without waiting (``flush`` then writes it)."""
        self._collect(time.monotonic())

    def _collect(self, deadline: float) -> bool:
        """Take records until ``deadline`` (or MAX_BATCH); False once ``close`` was asked."""
        taken = 0
        while taken < MAX_BATCH:
            wait = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                return True
            if item is None:
                while True:  # take what was queued before the stop
                    try:
                        rest = self._queue.get_nowait()
                    except queue.Empty:
                        return False
                    if rest is not None:
                        self._add(rest)
            self._add(item)
            taken += 1
        return True

    def _add(self, record: Record) -> None:
        key = (record.day, record.key, record.model)
        totals = self._pending.get(key)
        if totals is None:
            if len(self._pending) >= MAX_PENDING:
                self._dropped_pending += 1
                return
            totals = self._pending[key] = _Totals()
        totals.add(record)
        self._pending_records += 1

    def flush(self) -> None:
        """Write the pending totals (writer thread, or a caller that owns the store alone)."""
        now = self._clock()
        try:
            db = self._connection()
            if self._pending:
                self._write(db)
            if now - self._pruned_at >= PRUNE_INTERVAL:
                self._prune(db, now)
        except sqlite3.Error as exc:
            self._fail(exc)
            return
        if self.problem is not None:
            log.warning("usage: the database is written again", extra={"path": str(self.path)})
            self.problem = None

    def _write(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for (day, key, model), totals in self._pending.items():
                found = db.execute(
                    "SELECT ttft_histogram FROM usage WHERE day = ? AND key_name = ? AND model = ?",
                    (day, key, model),
                ).fetchone()
                histogram = _merge(_histogram(found[0]) if found else [], totals.ttft)
                db.execute(_UPSERT, (day, key, model, *totals.counts, _dump(histogram)))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.written += self._pending_records
        self.batches += 1
        self._pending.clear()
        self._pending_records = 0

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        cutoff = today(now - self.retention_days * 86_400)
        removed = db.execute("DELETE FROM usage WHERE day < ?", (cutoff,)).rowcount
        self._pruned_at = now
        if removed:
            log.info("usage: old days removed", extra={"rows": removed, "before": cutoff})

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _open(self.path)
        return self._db

    def _fail(self, exc: sqlite3.Error) -> None:
        problem = f"{type(exc).__name__}: {exc}"
        if problem != self.problem:
            log.error(
                "usage: the database cannot be written; totals are kept in memory until it can",
                extra={"path": str(self.path), "error": problem},
            )
        self.problem = problem
        if self._db is not None:
            self._db.close()
            self._db = None


def _open(path: Path) -> sqlite3.Connection:
    """The database for writing: created if absent, checked, in WAL mode, synchronous FULL."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise sqlite3.OperationalError(f"cannot create its directory: {exc.strerror}") from None
    db = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout = 1000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        checked = db.execute("PRAGMA quick_check").fetchone()[0]
        if checked != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {checked}")
        db.execute(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


_HAS_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage'"


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """The database opened read-only (the CLI, /v1/usage): never creates or changes it."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    try:
        yield db
    finally:
        db.close()


def read_rows(
    db: sqlite3.Connection, since: str, key: str | None = None, model: str | None = None
) -> list[Row]:
    """The rows from day ``since`` on (optionally one key, one model), by day, key, model;
    none while the writer is still creating the database (the file is there, its table not
    yet committed)."""
    if db.execute(_HAS_TABLE).fetchone() is None:
        return []
    query = f"SELECT day, key_name, model, {', '.join(COUNTS)}, ttft_histogram FROM usage "
    query += "WHERE day >= ?"
    arguments: list[str] = [since]
    if key is not None:
        query += " AND key_name = ?"
        arguments.append(key)
    if model is not None:
        query += " AND model = ?"
        arguments.append(model)
    rows = []
    for found in db.execute(query + " ORDER BY day, key_name, model", arguments):
        histogram = _histogram(found[-1])
        p50, p90 = percentile_ms(histogram, 50), percentile_ms(histogram, 90)
        values = dict(zip(("day", "key", "model", *COUNTS), found[:-1], strict=True))
        rows.append(Row(**values, ttft_p50_ms=p50, ttft_p90_ms=p90))
    return rows


def _histogram(text: str) -> list[int]:
    try:
        counts = json.loads(text)
    except ValueError:
        return []
    if not isinstance(counts, list) or not all(isinstance(n, int) for n in counts):
        return []
    return counts[: len(TTFT_BOUNDS_MS) + 1]


def _merge(stored: list[int], added: list[int]) -> list[int]:
    merged = list(added)
    for index, count in enumerate(stored):
        merged[index] += count
    return merged


def _dump(histogram: list[int]) -> str:
    end = len(histogram)
    while end and not histogram[end - 1]:
        end -= 1
    return json.dumps(histogram[:end], separators=(",", ":"))


# ---------------------------------------------------------------------- one request's share

_current: ContextVar[Outcome | None] = ContextVar("cerebrum_usage_outcome", default=None)

MAX_TEXT = 4096  # characters of a completion kept to judge whether it was accepted


@dataclass(slots=True)
class Outcome:
    """What one request did, filled in while it runs: by the generation's tracker
    (core/stats.py) and by the load shedders; read by the usage middleware at its end."""

    model: str | None = None
    session: str | None = None  # the editor session's key (opaque), when it has one
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    ttft: float | None = None
    error: str | None = None  # the error kind, "superseded" included
    cancelled: bool = False
    shed: bool = False
    text: list[str] = field(default_factory=list)  # the first MAX_TEXT characters
    text_length: int = 0

    def add_text(self, text: str) -> None:
        room = MAX_TEXT - self.text_length
        if room > 0 and text:
            piece = text[:room]
            self.text.append(piece)
            self.text_length += len(piece)


def current() -> Outcome | None:
    """The outcome of the request being served here (None outside a tracked request)."""
    return _current.get()


@contextmanager
def tracking(outcome: Outcome) -> Iterator[Outcome]:
    """Serve a request with ``outcome`` as its current outcome."""
    token = _current.set(outcome)
    try:
        yield outcome
    finally:
        _current.reset(token)


def mark_shed() -> None:
    """The current request was refused by a load shedder (its key's limit, or the queue)."""
    outcome = _current.get()
    if outcome is not None:
        outcome.shed = True
