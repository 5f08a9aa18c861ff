"""Editor sessions: who is typing where, and what their last prompt looked like.

A session is one client (its key, or loopback) with one model, and for the seed's API the
``session`` a request names (e.g. the file being edited). Its key decides three things:
the backend that serves it (``core.affinity``: the one whose KV cache holds its prompt),
which request is current (``core.supersede``: a newer completion supersedes an older one
still queued or generating), and the memory kept here: the layout of the session's last
prompt (its chunks, in order) and the tokens its completions need besides the context, so
that the next prompt keeps the same start and a warm-up leaves room for what follows it.
At most ``capacity`` sessions are remembered, least recently used first out, each with at
most MAX_LAYOUT chunk ids: about 9 MB at worst, whatever clients send.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from cerebrum.core.supersede import Supersede

CAPACITY = 1024
MAX_LAYOUT = 128  # chunk ids remembered per session (a prompt's first ones)


@dataclass(frozen=True, slots=True)
class Memory:
    layout: tuple[str, ...]  # chunk ids of the last prompt, in their order
    own_tokens: int  # what its last completion needed besides the context (prompt, output)


@dataclass(frozen=True, slots=True)
class Session:
    """Whose request this is: the client, the route family and the session's own name (the
    model is added once resolved); ``exclusive``: a newer request of the same session
    supersedes an older one still running."""

    client: str
    route: str
    name: str = ""
    exclusive: bool = False

    def key_for(self, alias: str) -> str:
        return f"{self.client}\0{self.route}\0{alias}\0{self.name}"


def client_identity(name: str | None) -> str:
    """How a client is named in session keys: its key's configured name (never the key
    itself, CEREBRUM_CLIENT_KEYS), or ``loopback`` for the keyless loopback clients."""
    return name or "loopback"


class Sessions:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.supersede = Supersede()
        self._memory: OrderedDict[str, Memory] = OrderedDict()

    def __len__(self) -> int:
        return len(self._memory)

    def recall(self, key: str) -> Memory | None:
        memory = self._memory.get(key)
        if memory is not None:
            self._memory.move_to_end(key)
        return memory

    def remember(self, key: str, memory: Memory) -> None:
        if len(memory.layout) > MAX_LAYOUT:
            memory = Memory(memory.layout[:MAX_LAYOUT], memory.own_tokens)
        self._memory[key] = memory
        self._memory.move_to_end(key)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)
