"""core/usage.py: the usage store (batches, bounded queue, bad databases, retention) and
its TTFT histogram."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from cerebrum.core.usage import (
    Record,
    UsageStore,
    percentile_ms,
    read_rows,
    reading,
    today,
    ttft_bucket,
)

DAY = 86_400


def rows(path: Path, since: str = "2000-01-01") -> list[dict[str, object]]:
    with reading(path) as db:
        return [row.as_dict() for row in read_rows(db, since)]


def store_at(path: Path, **options: object) -> UsageStore:
    return UsageStore(path, retention_days=30, **options)  # type: ignore[arg-type]


def test_records_of_one_key_model_and_day_add_up_in_one_row(tmp_path):
    store = store_at(tmp_path / "u.db")
    for tokens in (3, 4):
        store.record(Record(key="alice", model="m1", requests=1, completion_tokens=tokens))
    store.record(Record(key="bob", model="m1", requests=1, errors=1))
    store.drain()
    store.flush()
    found = {(row["key"], row["model"]): row for row in rows(tmp_path / "u.db")}
    assert found["alice", "m1"]["requests"] == 2
    assert found["alice", "m1"]["completion_tokens"] == 7
    assert found["bob", "m1"]["errors"] == 1


def test_the_writer_thread_writes_many_records_in_few_transactions(tmp_path):
    store = store_at(tmp_path / "u.db", flush_interval=0.2)
    store.start()
    for _ in range(500):
        store.record(Record(key="alice", model="m1", requests=1))
    store.close()
    assert rows(tmp_path / "u.db")[0]["requests"] == 500
    assert store.written == 500
    assert store.batches <= 3


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path):
    store = store_at(tmp_path / "u.db", queue_size=3)  # no writer: nothing leaves the queue
    started = time.perf_counter()
    for _ in range(5):
        store.record(Record(key="alice", requests=1))
    assert time.perf_counter() - started < 0.1
    assert store.dropped == 2
    assert store.queued == 3


def test_time_to_first_token_percentiles_add_up_across_writes_and_restarts(tmp_path):
    path = tmp_path / "u.db"
    for ttfts in ((0.010,) * 5, (1.0,) * 5):  # two processes, one after the other
        store = store_at(path)
        for ttft in ttfts:
            store.record(Record(key="alice", model="m1", requests=1, ttft=ttft))
        store.drain()
        store.flush()
    (row,) = rows(path)
    assert row["requests"] == 10
    assert 10 <= row["ttft_p50_ms"] <= 12.5  # type: ignore[operator]
    assert 1000 <= row["ttft_p90_ms"] <= 1250  # type: ignore[operator]


def test_a_percentile_is_its_bucket_s_upper_bound_at_most_25_percent_above():
    for seconds in (0.0012, 0.05, 0.731, 9.9):
        histogram = [0] * 60
        histogram[ttft_bucket(seconds)] = 1
        reported = percentile_ms(histogram, 50)
        assert reported is not None
        assert seconds * 1000 <= reported <= seconds * 1000 * 1.25


def test_a_corrupt_file_is_reported_and_its_totals_kept_until_it_can_be_written(tmp_path):
    path = tmp_path / "u.db"
    path.write_bytes(b"this is not a database" * 100)
    store = store_at(path)
    store.record(Record(key="alice", model="m1", requests=1, completion_tokens=5))
    store.drain()
    store.flush()
    assert store.problem is not None
    assert "not a database" in store.problem
    store.record(Record(key="alice", model="m1", requests=1, completion_tokens=5))  # still takes
    path.unlink()  # the operator moves the broken file aside
    store.drain()
    store.flush()
    assert store.problem is None
    assert rows(path)[0]["completion_tokens"] == 10


def test_a_locked_database_is_reported_and_written_once_released(tmp_path):
    path = tmp_path / "u.db"
    store = store_at(path)
    store.flush()  # creates it
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        store.record(Record(key="alice", model="m1", requests=1))
        store.drain()
        store.flush()
        assert store.problem is not None
        assert "locked" in store.problem
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.flush()
    assert store.problem is None
    assert rows(path)[0]["requests"] == 1


def test_days_older_than_the_retention_are_deleted(tmp_path):
    now = time.time()
    path = tmp_path / "u.db"
    store = UsageStore(path, retention_days=7, clock=lambda: now)
    for age in (0, 6, 8, 400):
        store.record(Record(key="alice", day=today(now - age * DAY), requests=1))
    store.drain()
    store.flush()  # written, then pruned at once (a first write prunes)
    store2 = UsageStore(path, retention_days=7, clock=lambda: now)
    store2.flush()
    kept = sorted(row["day"] for row in rows(path))
    assert kept == sorted([today(now), today(now - 6 * DAY)])


def test_reading_never_creates_the_database(tmp_path):
    with pytest.raises(sqlite3.OperationalError), reading(tmp_path / "absent.db") as db:
        read_rows(db, "2000-01-01")
    assert not (tmp_path / "absent.db").exists()


def test_a_database_the_writer_is_still_creating_reads_as_no_rows(tmp_path):
    path = tmp_path / "u.db"  # the file is there, in WAL mode, its table not yet committed
    sqlite3.connect(path).execute("PRAGMA journal_mode = WAL").fetchone()
    assert rows(path) == []
    store = store_at(path)
    store.record(Record(key="alice", model="m1", requests=1))
    store.drain()
    store.flush()
    assert [row["key"] for row in rows(path)] == ["alice"]


def test_the_database_is_in_wal_mode_with_full_sync(tmp_path):
    store = store_at(tmp_path / "u.db")
    store.flush()
    db = sqlite3.connect(tmp_path / "u.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
