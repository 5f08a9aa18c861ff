"""sse_reader.py: SSE bytes, however they are split, to each event's data; bounded and linear."""

from __future__ import annotations

import time

import httpx
import pytest
from cerebrum.sse_reader import (
    Comment,
    EventParser,
    EventTooLargeError,
    aiter_events,
    iter_events,
)

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


def test_comments_are_kept_in_stream_order_only_when_asked():
    parser = EventParser(comments=True)
    events = parser.feed(STREAM + b":\n\n")
    assert events == [EXPECTED[0], b"ping", *EXPECTED[1:], b""]
    assert [isinstance(event, Comment) for event in events] == [
        False, True, False, False, False, True,
    ]  # fmt: skip


def test_a_comment_inside_an_event_comes_before_its_data():
    events = EventParser(comments=True).feed(b"data: a\n: note\ndata: b\n\n")
    assert events == [b"note", b"a\nb"]
    assert isinstance(events[0], Comment)
    assert not isinstance(events[1], Comment)


def test_an_event_cut_off_by_the_end_of_the_stream_is_not_returned():
    response = httpx.Response(200, content=b"data: 1\n\ndata: 2\n")
    assert list(iter_events(response)) == [b"1"]


@pytest.mark.anyio
async def test_the_response_helpers_read_the_same_events_sync_and_async():
    pieces = [STREAM[i : i + 5] for i in range(0, len(STREAM), 5)]

    async def body():
        for piece in pieces:
            yield piece

    response = httpx.Response(200, content=body())
    read_async = [event async for event in aiter_events(response, comments=True)]
    read_sync = list(iter_events(httpx.Response(200, content=iter(pieces)), comments=True))
    assert read_sync == read_async == [EXPECTED[0], b"ping", *EXPECTED[1:]]


# ---- Bounded and linear, whatever the stream sends ---------------------------------------


def test_the_event_parser_keeps_at_most_max_bytes():
    parser = EventParser(max_bytes=1000)
    parser.feed(b"data: " + b"x" * 900)
    with pytest.raises(EventTooLargeError, match="larger than 1000 bytes"):
        parser.feed(b"x" * 200)


def test_an_event_larger_than_max_bytes_is_refused_even_when_it_arrives_whole():
    with pytest.raises(EventTooLargeError):
        EventParser(max_bytes=1000).feed(b"data: " + b"x" * 1000 + b"\n\n")


def test_a_32_mb_event_is_refused_at_the_first_piece_beyond_max_bytes():
    parser = EventParser(max_bytes=1_048_576)
    parser.feed(b"data: ")
    fed = []

    def feed_32_mb() -> None:
        for _ in range(512):
            fed.append(parser.feed(b"x" * 65536))

    with pytest.raises(EventTooLargeError):
        feed_32_mb()
    assert len(fed) == 15  # the 16th piece takes the event beyond 1 MB (6 + 16 * 64 KB)


def test_the_event_parser_is_linear_in_an_event_that_arrives_in_small_pieces():
    """Quadratic re-copying would make 8x the bytes cost ~64x the time; linear, ~8x."""

    def cost(size: int) -> float:
        best = float("inf")
        for _ in range(3):
            parser = EventParser(max_bytes=64 * 1_048_576)
            piece = b"x" * 4096
            started = time.process_time()
            for _ in range(size // len(piece)):
                parser.feed(piece)
            parser.feed(b"\n\n")
            best = min(best, time.process_time() - started)
        return best

    small, large = cost(1_048_576), cost(8 * 1_048_576)
    assert large / max(small, 1e-6) < 24, (small, large)
