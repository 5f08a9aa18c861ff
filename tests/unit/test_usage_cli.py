"""usage_cli.py: `cerebrum usage`, a table or JSON of the usage database, read-only."""

from __future__ import annotations

import json
import subprocess
import sys

from cerebrum.core.usage import Record, UsageStore
from cerebrum.usage_cli import main


def filled(path):  # type: ignore[no-untyped-def]
    store = UsageStore(path, retention_days=30)
    store.record(Record(key="alice", model="m1", requests=3, completion_tokens=30, ttft=0.05))
    store.record(Record(key="bob", model="m1", requests=1, shown=2, accepted_whole=1, ignored=1))
    store.drain()
    store.flush()
    return path


def test_json_lists_one_row_per_key_and_model(tmp_path, capsys):
    path = filled(tmp_path / "u.db")
    assert main(["--db", str(path), "--json"]) == 0
    rows = {row["key"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["alice"]["requests"] == 3
    assert rows["alice"]["ttft_p50_ms"] is not None
    assert rows["bob"]["accepted_whole"] == 1


def test_the_table_has_a_header_and_one_line_per_row_filtered_by_key(tmp_path, capsys):
    path = filled(tmp_path / "u.db")
    assert main(["--db", str(path), "--key", "alice"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["day", "key", "model", "requests"]
    assert len(lines) == 2
    assert "alice" in lines[1]


def test_a_missing_database_is_one_line_and_status_2_and_is_not_created(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "absent.db")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "absent.db").exists()


def test_cerebrum_usage_is_the_same_command(tmp_path):
    path = filled(tmp_path / "u.db")
    found = subprocess.run(
        [sys.executable, "-m", "cerebrum", "usage", "--db", str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert {row["key"] for row in json.loads(found.stdout)} == {"alice", "bob"}
