"""Latest wins: a newer request of the same session supersedes the older one.

An editor sends a request per keystroke; on a CPU backend an answer for a line the user has
already typed past is wasted work that delays the useful one. A request of a session
``enter``s here as soon as it arrives; a newer one of the same key sets the older one's
``superseded`` event, and the older one stops wherever it is (building its prompt, waiting
for a first token, streaming) and frees its backend slot. A request ``leave``s when it is
done; the table holds at most one entry per session key, and at most ``capacity`` keys
(the oldest entries go first, so a client cannot grow it without bound).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio

CAPACITY = 4096


@dataclass(frozen=True, slots=True, eq=False)
class Ticket:
    key: str | None
    superseded: anyio.Event = field(default_factory=anyio.Event)


class Supersede:
    """The current request of each session key."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._current: OrderedDict[str, Ticket] = OrderedDict()
        self.superseded_total = 0

    def __len__(self) -> int:
        return len(self._current)

    def enter(self, key: str | None) -> Ticket:
        """A ticket for a new request; ``None`` (no session) is never superseded."""
        ticket = Ticket(key)
        if key is None:
            return ticket
        older = self._current.pop(key, None)
        if older is not None:
            older.superseded.set()
            self.superseded_total += 1
        self._current[key] = ticket
        while len(self._current) > self.capacity:
            self._current.popitem(last=False)
        return ticket

    def leave(self, ticket: Ticket) -> None:
        if ticket.key is not None and self._current.get(ticket.key) is ticket:
            del self._current[ticket.key]

    @contextmanager
    def register(self, key: str | None) -> Iterator[anyio.Event]:
        """``enter`` for the block's duration; yields the ``superseded`` event."""
        ticket = self.enter(key)
        try:
            yield ticket.superseded
        finally:
            self.leave(ticket)
