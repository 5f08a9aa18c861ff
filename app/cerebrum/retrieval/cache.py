"""PipelineCache: what the prompt pipeline remembers between requests, bounded in bytes.

Editors send the same files with every keystroke, so the pipeline keeps what it learnt about
them: a snippet's chunks, a chunk's line set and identifier counts, a whole context's
identifier index and term searches, the terms of an identifier, the token cost of a letter
run. All of it lives in one `PipelineCache` that the app builds (from
``CEREBRUM_PIPELINE_CACHE_MB``) and passes to `build_prompt`; nothing is cached at module
level.

What stays true:

- One eviction rule: least recently used, over every kind of entry together.
- Bounded in bytes: an entry's size is its key's and value's text (characters or bytes)
  plus ENTRY_OVERHEAD, plus ITEM_OVERHEAD per item it holds (a line, a chunk, a word), an
  approximation of what the Python objects cost; the sizes add up to at most `max_bytes`.
  An entry larger than `max_bytes` is not kept.
- Staged: a request reads through a `CacheSession` and writes into it; its entries reach the
  shared cache only when `commit` is called, which `build_prompt` does after the prompt was
  assembled. A rejected request (PromptTooLarge, cancelled, any error) adds nothing.
- Thread-safe: one lock guards the shared entries; a session belongs to one request.
- Cached values are never changed after they are stored (requests share them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock

ENTRY_OVERHEAD = 160  # bytes: the key tuple, the value's container, the LRU link
ITEM_OVERHEAD = 64  # bytes per item inside a value (a str or bytes header, a set slot)
MB = 1 << 20


class PipelineCache:
    """The pipeline's memory between requests: LRU, at most `max_bytes`, thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._size = 0
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The accounted bytes of every entry held (at most max_bytes)."""
        return self._size

    def session(self) -> CacheSession:
        """A request's view: reads the shared entries, keeps its own until `commit`."""
        return CacheSession(self)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def _get(self, key: Hashable) -> object | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def _add(self, staged: dict[Hashable, tuple[object, int]]) -> None:
        with self._lock:
            for key, (value, size) in staged.items():
                if size > self.max_bytes:
                    continue
                old = self._entries.pop(key, None)
                if old is not None:
                    self._size -= old[1]
                self._entries[key] = (value, size)
                self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted


class CacheSession:
    """One request's reads and writes: `get` sees this session's entries, then the shared
    ones; `put` stays here until `commit` (at most once) hands them to the cache."""

    def __init__(self, cache: PipelineCache | None) -> None:
        self._cache = cache
        self._staged: dict[Hashable, tuple[object, int]] = {}

    def get(self, key: Hashable) -> object | None:
        entry = self._staged.get(key)
        if entry is not None:
            return entry[0]
        return self._cache._get(key) if self._cache is not None else None

    def put(self, key: Hashable, value: object, size: int) -> None:
        """Stage `value`; `size` is its accounted bytes, ENTRY_OVERHEAD is added here."""
        self._staged[key] = (value, size + ENTRY_OVERHEAD)

    def commit(self) -> None:
        """Hand the staged entries to the shared cache (in the order they were made)."""
        if self._cache is not None and self._staged:
            self._cache._add(self._staged)
        self._staged = {}


def detached() -> CacheSession:
    """A session with no shared cache behind it: it remembers within one request only."""
    return CacheSession(None)
