"""core/documents.py: recognising a document from its text, latest wins inside a document,
slot placement with the least recently typed document losing its slot, bounded table."""

from __future__ import annotations

import time

import pytest
from cerebrum.core import documents as docs
from cerebrum.core.documents import Document, Documents, Memory, Origin, Placement, Text

EDITOR = Origin("key:aaaa", "infill", exclusive=True)


def source(name: str, lines: int = 400) -> list[str]:
    """A file whose lines are its own (two files share no line but blank ones)."""
    return [f"    value_{name}_{i} = compute_{name}({i})" if i % 7 else "" for i in range(lines)]


def keystroke(file: list[str], row: int, typed: str, extra: tuple[str, ...] = ()) -> Text:
    """What llama.vim sends with the cursor on ``row``: 256 lines before it, the line up to
    the cursor, the rest of the line and 64 lines after it."""
    before = "\n".join(file[max(0, row - 256) : row]) + "\n"
    after = "\n" + "\n".join(file[row + 1 : row + 65]) + "\n"
    return Text(before + typed, after, extra)


def table(slots: int = 2) -> Documents:
    return Documents(Placement(slots))


def test_keystrokes_in_one_file_are_one_document_even_as_the_window_slides():
    documents, file = table(), source("a")
    first = documents.recognise(EDITOR, "m", keystroke(file, 300, "    x"))
    for row, typed in ((300, "    x ="), (300, "    x = 1"), (301, ""), (302, "  "), (320, "y")):
        assert documents.recognise(EDITOR, "m", keystroke(file, row, typed)) is first
    assert len(documents) == 1


def test_two_files_of_one_editor_are_two_documents():
    documents = table()
    one = documents.recognise(EDITOR, "m", keystroke(source("a"), 100, "x"))
    other = documents.recognise(EDITOR, "m", keystroke(source("b"), 100, "x"))
    assert one is not other
    assert documents.recognise(EDITOR, "m", keystroke(source("a"), 101, "")) is one


def test_the_same_file_from_another_client_route_or_model_is_another_document():
    documents, text = table(), keystroke(source("a"), 50, "x")
    one = documents.recognise(EDITOR, "m", text)
    assert documents.recognise(Origin("key:bbbb", "infill"), "m", text) is not one
    assert documents.recognise(Origin("key:aaaa", "complete"), "m", text) is not one
    assert documents.recognise(EDITOR, "other-model", text) is not one


def test_an_empty_file_is_not_taken_for_another_file_of_the_editor():
    documents = table()
    typed = documents.recognise(EDITOR, "m", keystroke(source("a"), 50, "x"))
    empty = documents.recognise(EDITOR, "m", Text("de", "\n"))
    assert empty is not typed
    assert documents.recognise(EDITOR, "m", Text("def", "\n")) is empty


def test_a_warm_up_goes_to_the_document_of_its_editors_ring_of_chunks():
    documents = table()
    ring = tuple(f"chunk {i}\n" * 20 for i in range(8))
    other_ring = tuple(f"other {i}\n" * 20 for i in range(8))
    mine = documents.recognise(EDITOR, "m", keystroke(source("a"), 50, "x", ring))
    theirs = documents.recognise(EDITOR, "m", keystroke(source("b"), 50, "x", other_ring))
    shifted = (*ring[1:], "a new chunk\n")  # the ring moved on by one chunk
    assert documents.recognise(EDITOR, "m", Text(context=shifted)) is mine
    assert documents.recognise(EDITOR, "m", Text(context=other_ring)) is theirs


def test_a_warm_up_of_another_editor_on_the_same_project_is_not_taken_for_this_one():
    documents = table()
    files = [f"file {i}\n" * 20 for i in range(4)]
    mine = documents.recognise(EDITOR, "m", Text(context=tuple(files[:2])))
    theirs = documents.recognise(EDITOR, "m", Text(context=tuple(files[1:3])))  # one shared
    assert theirs is not mine


def test_the_first_keystroke_after_a_warm_up_takes_the_warm_ups_document():
    documents = table()
    ring = tuple(f"chunk {i}\n" for i in range(8))
    warm = documents.recognise(EDITOR, "m", Text(context=ring))
    assert documents.recognise(EDITOR, "m", keystroke(source("a"), 50, "x", ring)) is warm


def test_a_named_session_is_its_own_document_whatever_its_text():
    documents, text = table(), keystroke(source("a"), 50, "x")
    named = documents.recognise(Origin("c", "complete", "main.py"), "m", text)
    assert documents.recognise(Origin("c", "complete", "main.py"), "m", Text("other")) is named
    assert documents.recognise(Origin("c", "complete", "util.py"), "m", text) is not named


def test_latest_wins_inside_a_document_and_only_there():
    documents = table()
    one = documents.recognise(EDITOR, "m", keystroke(source("a"), 50, "x"))
    other = documents.recognise(EDITOR, "m", keystroke(source("b"), 50, "x"))
    older = documents.enter(one, exclusive=True)
    elsewhere = documents.enter(other, exclusive=True)
    warm_up = documents.enter(one, exclusive=False)
    assert not older.superseded.is_set()  # another document, a warm-up: no effect
    newer = documents.enter(one, exclusive=True)
    assert older.superseded.is_set()
    assert not elsewhere.superseded.is_set()
    assert not warm_up.superseded.is_set()
    assert documents.superseded_total == 1
    for ticket in (older, elsewhere, warm_up, newer):
        documents.leave(ticket)
    assert one.running == 0
    assert one.current is None


def test_a_new_document_takes_a_free_slot_on_the_backend_with_most_free_then_least_load():
    placement = Placement(2)
    a, b, c = (Document(f"doc-{i}", "s", typed_at=i) for i in range(3))
    assert placement.place(a, {"u1": 1, "u2": 0}).url == "u2"
    assert placement.place(b, {"u1": 1, "u2": 0}).url == "u1"  # u1 has more free slots
    assert placement.place(c, {"u1": 0, "u2": 3}).url == "u1"  # same free: less load
    assert {a.home, b.home, c.home} == {
        docs.Home("u2", 0),
        docs.Home("u1", 0),
        docs.Home("u1", 1),
    }
    assert placement.held == 3
    assert placement.evictions == 0


def test_the_least_recently_typed_document_loses_its_slot_not_the_one_being_typed_in():
    placement = Placement(1)
    load = {"u1": 0, "u2": 0}
    old, recent, new = (Document(f"doc-{i}", "s", typed_at=i) for i in range(3))
    old_home, recent_home = placement.place(old, load), placement.place(recent, load)
    old.typed_at = 5  # typed in again: now `recent` is the least recently typed
    assert placement.place(new, load) == recent_home
    assert recent.home is None
    assert old.home == old_home
    assert placement.evictions == 1
    assert placement.place(old, load) == old_home  # kept its slot


def test_an_idle_document_loses_its_slot_before_one_with_a_request_running():
    placement = Placement(1)
    busy, idle, new = (Document(f"doc-{i}", "s", typed_at=i) for i in range(3))
    placement.place(busy, {"u": 0})
    busy.running = 1
    placement.place(idle, {"u": 0, "v": 0})
    placement.place(new, {"u": 0, "v": 0})
    assert busy.home is not None
    assert idle.home is None


def test_the_table_is_bounded_and_a_forgotten_document_frees_its_slot():
    placement = Placement(4)
    documents = Documents(placement, capacity=3)
    first = documents.recognise(Origin("c1", "infill"), "m", keystroke(source("a"), 9, "x"))
    placement.place(first, {"u": 0})
    for client in ("c2", "c3", "c4"):
        documents.recognise(Origin(client, "infill"), "m", keystroke(source("a"), 9, "x"))
    assert len(documents) == 3
    assert first.home is None
    assert placement.held == 0


def test_a_client_keeps_at_most_recent_documents():
    documents = table()
    for name in range(docs.RECENT + 5):
        documents.recognise(EDITOR, "m", keystroke(source(str(name)), 9, "x"))
    assert len(documents) == docs.RECENT


def test_the_memory_kept_per_document_is_bounded():
    documents = table()
    document = documents.recognise(EDITOR, "m", Text("x"))
    documents.remember(document, Memory(tuple("i" * 1000 for _ in range(1000)), 7))
    assert document.memory is not None
    assert len(document.memory.layout) == docs.MAX_LAYOUT
    assert all(len(chunk_id) == docs.MAX_ID for chunk_id in document.memory.layout)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "x" * n, id="one-line"),
        pytest.param(lambda n: "\n" * n, id="only-newlines"),
        pytest.param(lambda n: "".join(f"{i}\n" for i in range(n // 8)), id="distinct-lines"),
    ],
)
def test_recognising_a_1_mb_prompt_costs_what_a_small_one_does(make):
    """Cost is bounded by the window read around the cursor, not by the prompt's size."""
    documents = table()
    for name in range(docs.RECENT):  # a full scope to compare with
        documents.recognise(EDITOR, "m", keystroke(source(str(name)), 60, "x"))

    def cost(size: int) -> float:
        text = Text(make(size), make(size))
        started = time.process_time()
        for _ in range(20):
            documents.recognise(EDITOR, "m", text)
        return (time.process_time() - started) / 20

    small, large = max(cost(16_000), 1e-4), cost(1 << 20)
    assert large < 0.05, f"{large * 1000:.1f} ms for a 1 MB prompt"
    assert large < 8 * small, f"1 MB: {large * 1000:.2f} ms, 16 KB: {small * 1000:.2f} ms"


def test_each_model_has_its_own_slots_on_a_backend():
    placement = Placement(1)
    one, other = Document("doc-1", "s", "gemma"), Document("doc-2", "s", "smol")
    assert placement.place(one, {"u": 0}) == placement.place(other, {"u": 0})  # slot 0 each
    assert placement.evictions == 0
    assert placement.held == 2
