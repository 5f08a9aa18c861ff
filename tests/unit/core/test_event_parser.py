"""core/llama_server.py EventParser: SSE bytes, however they are split, to each event's data."""

from __future__ import annotations

from cerebrum.core.llama_server import EventParser

STREAM = (
    b'data: {"content":"a"}\n\n'
    b": ping\n\n"
    b"event: token\ndata: first line\ndata: second line\nid: 7\n\n"
    b"data:no space\n\n"
    b"retry: 10\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [b'{"content":"a"}', b"first line\nsecond line", b"no space", b"[DONE]"]


def parse_in_pieces(data: bytes, size: int) -> list[bytes]:
    parser = EventParser()
    events: list[bytes] = []
    for start in range(0, len(data), size):
        events.extend(parser.feed(data[start : start + size]))
    return events


def test_events_are_their_data_lines_joined():
    assert EventParser().feed(STREAM) == EXPECTED


def test_any_split_of_the_bytes_gives_the_same_events():
    for size in range(1, 12):
        assert parse_in_pieces(STREAM, size) == EXPECTED, size


def test_crlf_and_cr_line_ends_split_anywhere_give_the_same_events():
    for ending in (b"\r\n", b"\r"):
        data = STREAM.replace(b"\n", ending)
        for size in range(1, 8):
            assert parse_in_pieces(data, size) == EXPECTED, (ending, size)


def test_an_unfinished_event_waits_for_its_blank_line():
    parser = EventParser()
    assert parser.feed(b'data: {"content":"a"}\n') == []
    assert parser.feed(b"\n") == [b'{"content":"a"}']


def test_a_bare_data_field_is_an_empty_line_of_data():
    assert EventParser().feed(b"data\ndata: x\n\n") == [b"\nx"]
