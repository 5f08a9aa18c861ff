"""Exact token counts from the backends' tokenizers, remembered by model and text.

The prompt pipeline estimates token counts from above (it has no tokenizer on the CM4), which
leaves part of the budget unused. When context was left out for the budget, the texts it
estimated are counted by a backend's ``/tokenize`` (a few milliseconds, no slot needed) and
the prompt is built again with the exact counts. The counts are kept by model and text key
(a hash), so an editor's context files are counted once per session, not per keystroke.

These helper calls are bounded, so that they cannot flood the backends whatever the clients
send: one request asks for at most ``per_request`` texts (the first ones it names; the
rest keep their estimates, and a later request may count them), and at most ``concurrency``
``/tokenize`` calls are in flight for the whole app (one semaphore, shared by every
request); a call that cannot start before the request's deadline is not made. ``calls``,
``failed`` and ``skipped`` count what happened (``/v1/stats``, ``/metrics``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

import anyio

from cerebrum.core.errors import CerebrumError
from cerebrum.core.llama_server import LlamaServerClient

log = logging.getLogger("cerebrum.token_counts")

CAPACITY = 32_768  # counts kept (about 200 bytes each)
CONCURRENCY = 4  # /tokenize requests in flight, for every request together
PER_REQUEST = 64  # texts one request may have counted (an editor ring, all on its first request)


class TokenCounts:
    """Exact counts by (backend model id, text key); least recently used beyond ``capacity``."""

    def __init__(
        self,
        capacity: int = CAPACITY,
        concurrency: int = CONCURRENCY,
        per_request: int = PER_REQUEST,
    ) -> None:
        self.capacity = capacity
        self.per_request = per_request
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._limit = anyio.Semaphore(concurrency)  # created in the app's event loop's thread
        self.calls = 0  # /tokenize requests made
        self.failed = 0  # of those, answered with an error or not at all
        self.skipped = 0  # texts left uncounted: beyond per_request, or past the deadline

    def __len__(self) -> int:
        return len(self._counts)

    def view(self, model: str) -> Mapping[str, int]:
        """The counts known for ``model``, by text key, read without copying (the prompt
        pipeline reads them, possibly from a worker thread; reads do not reorder)."""
        return _ModelCounts(self._counts, model)

    def known(self, model: str, keys: Iterable[str]) -> dict[str, int]:
        """The counts known for ``model`` among ``keys`` (marked as recently used)."""
        found = {}
        for key in keys:
            count = self._counts.get((model, key))
            if count is not None:
                self._counts.move_to_end((model, key))
                found[key] = count
        return found

    async def count(
        self, backend: LlamaServerClient, model: str, texts: Mapping[str, str], seconds: float
    ) -> dict[str, int]:
        """Counts for ``texts`` (text key -> text): known ones, then at most ``per_request``
        others asked of ``backend`` within ``seconds``; a text not counted is left out."""
        found = self.known(model, texts)
        missing = [(key, text) for key, text in texts.items() if key not in found]
        if not missing:
            return found
        asked = missing[: self.per_request]
        self.skipped += len(missing) - len(asked)
        done: set[str] = set()

        async def one(key: str, text: str) -> None:
            async with self._limit:
                self.calls += 1
                try:
                    count = await backend.tokenize(model, text)
                except CerebrumError as exc:
                    self.failed += 1
                    log.debug("tokenize failed", extra={"error": exc.message})
                    return
                finally:
                    done.add(key)
            found[key] = count
            self._put(model, key, count)

        with anyio.move_on_after(seconds):
            async with anyio.create_task_group() as group:
                for key, text in asked:
                    group.start_soon(one, key, text)
        self.skipped += len(asked) - len(done)  # not started before the deadline
        return found

    def _put(self, model: str, key: str, count: int) -> None:
        self._counts[(model, key)] = count
        self._counts.move_to_end((model, key))
        while len(self._counts) > self.capacity:
            self._counts.popitem(last=False)


class _ModelCounts(Mapping[str, int]):
    """One model's counts, as a read-only mapping from text key to count."""

    def __init__(self, counts: Mapping[tuple[str, str], int], model: str) -> None:
        self._counts = counts
        self._model = model

    def __getitem__(self, key: str) -> int:
        return self._counts[(self._model, key)]

    def __iter__(self) -> Iterator[str]:
        return (key for model, key in list(self._counts) if model == self._model)

    def __len__(self) -> int:
        return sum(1 for _ in self)
