"""Server-Sent Events, read: the one parser for every stream Cerebrum reads.

The service reads its backends' streams with it (``core.llama_server``), the REPL reads the
orchestrator's, and so do the tests, the bench and the probes. (``api.sse`` is the writer.)

``EventParser.feed`` takes bytes as they arrive, split anywhere, and returns the data of each
event completed so far: its ``data:`` lines joined by newlines (one space after the colon
dropped), line ends LF, CRLF or CR. ``event``, ``id`` and ``retry`` fields and events
without data are skipped; an event cut off by the end of the stream is never returned.
Comment lines (``: ping``) are skipped too, or, with ``comments=True``, returned in stream
order as ``Comment`` (the text after the colon, one leading space dropped), so a caller can
tell a keep-alive from data with ``isinstance``.

Work is linear in the bytes fed: each byte is searched once for the blank line that ends its
event, and only the unfinished event is kept. An event longer than ``max_bytes`` raises
``EventTooLargeError``, so the parser never holds more than that.

``iter_events`` and ``aiter_events`` read an httpx streaming response's events with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx

DEFAULT_MAX_BYTES = 8 * 1_048_576  # CEREBRUM_BACKEND_MAX_BYTES's default (settings read it here)


class EventTooLargeError(ValueError):
    """An event longer than the parser's ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"an event larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class Comment(bytes):
    """A comment line's text (``b"ping"`` for ``: ping``), returned only with ``comments=True``."""

    __slots__ = ()


class EventParser:
    """SSE bytes, however they are split, to each event's data (see the module)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, *, comments: bool = False) -> None:
        self.max_bytes = max_bytes
        self.comments = comments
        self._buffer = bytearray()
        self._after_cr = False  # the last piece ended with CR: a LF starting the next is its pair

    def feed(self, data: bytes) -> list[bytes]:
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = data.endswith(b"\r")
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer
        search = max(0, len(buffer) - 1)  # what was kept holds no blank line
        buffer += data
        events: list[bytes] = []
        start = 0
        while (end := buffer.find(b"\n\n", search)) >= 0:
            if end - start > self.max_bytes:
                raise EventTooLargeError(self.max_bytes)
            self._event(bytes(buffer[start:end]).split(b"\n"), events)
            start = search = end + 2
        if start:
            del buffer[:start]
        if len(buffer) > self.max_bytes:
            raise EventTooLargeError(self.max_bytes)
        return events

    def _event(self, lines: list[bytes], events: list[bytes]) -> None:
        """Append the event of ``lines`` (its comments first, when kept) to ``events``."""
        data = [
            line[5:].removeprefix(b" ") if line.startswith(b"data:") else b""
            for line in lines
            if line.startswith(b"data:") or line == b"data"
        ]
        if self.comments:
            events.extend(
                Comment(line[1:].removeprefix(b" ")) for line in lines if line.startswith(b":")
            )
        if data:
            events.append(b"\n".join(data))


def iter_events(
    response: httpx.Response, max_bytes: int = DEFAULT_MAX_BYTES, *, comments: bool = False
) -> Iterator[bytes]:
    """The events of a streaming ``response`` (read with ``iter_bytes``) as they arrive."""
    parser = EventParser(max_bytes, comments=comments)
    for piece in response.iter_bytes():
        yield from parser.feed(piece)


async def aiter_events(
    response: httpx.Response, max_bytes: int = DEFAULT_MAX_BYTES, *, comments: bool = False
) -> AsyncIterator[bytes]:
    """The events of a streaming ``response`` (read with ``aiter_bytes``) as they arrive."""
    parser = EventParser(max_bytes, comments=comments)
    async for piece in response.aiter_bytes():
        for event in parser.feed(piece):
            yield event
