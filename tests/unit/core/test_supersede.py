from __future__ import annotations

from cerebrum.core.supersede import Supersede


def test_a_newer_request_of_the_same_session_supersedes_the_older():
    table = Supersede()
    with table.register("alice/main.py") as older:
        assert not older.is_set()
        with table.register("alice/main.py") as newer:
            assert older.is_set()
            assert not newer.is_set()
    assert table.superseded_total == 1


def test_other_sessions_and_requests_without_a_session_are_left_alone():
    table = Supersede()
    with table.register("alice/main.py") as alice, table.register("bob/main.py") as bob:
        with table.register(None), table.register(None):
            pass
        assert not alice.is_set()
        assert not bob.is_set()


def test_entries_live_only_while_their_request_does():
    table = Supersede()
    with table.register("a") as older:
        with table.register("a"):
            assert len(table) == 1
        # the newer one finished first: the older one no longer owns the entry
        assert len(table) == 0
        assert older.is_set()
    with table.register("b"):
        assert len(table) == 1
    assert len(table) == 0


def test_the_table_is_bounded_whatever_the_number_of_sessions():
    table = Supersede(capacity=8)
    tickets = [table.enter(f"session-{n}") for n in range(100)]
    assert len(table) == 8
    for ticket in tickets:
        table.leave(ticket)
    assert len(table) == 0


def test_session_memory_is_bounded_in_sessions_and_in_layout_length():
    from cerebrum.api.sessions import MAX_LAYOUT, Memory, Sessions

    sessions = Sessions(capacity=4)
    for n in range(10):
        sessions.remember(f"s{n}", Memory(tuple(f"{i:016x}" for i in range(1000)), 10))
    assert len(sessions) == 4
    assert sessions.recall("s0") is None
    remembered = sessions.recall("s9")
    assert remembered is not None
    assert len(remembered.layout) == MAX_LAYOUT
