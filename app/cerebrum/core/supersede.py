"""Latest wins: a newer request of the same session supersedes the older one.

An editor sends a request per keystroke; on a CPU backend an answer for a line the user has
already typed past is wasted work that delays the useful one. Each request of a session
registers here; registering a newer one sets the older one's ``superseded`` event, and the
route stops the older one wherever it is (queued for a place, waiting for a first token or
streaming). Entries live only while their request does, so the table holds at most one
entry per request in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio


class Supersede:
    """The current request of each session key."""

    def __init__(self) -> None:
        self._current: dict[str, anyio.Event] = {}
        self.superseded_total = 0

    def __len__(self) -> int:
        return len(self._current)

    @contextmanager
    def register(self, key: str | None) -> Iterator[anyio.Event]:
        """Make this request the session's current one; the event is set when a newer one
        of the same key registers. ``None`` (no session) is never superseded."""
        event = anyio.Event()
        if key is None:
            yield event
            return
        older = self._current.get(key)
        if older is not None:
            older.set()
            self.superseded_total += 1
        self._current[key] = event
        try:
            yield event
        finally:
            if self._current.get(key) is event:
                del self._current[key]
