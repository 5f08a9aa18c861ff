"""Load shedding: at most ``max_in_flight`` requests run, at most ``max_queue`` wait (FIFO).

A request beyond both bounds is refused at once (``OverloadedError``), so a burst costs the
callers a fast 503 instead of an unbounded queue in front of llama-server.
"""

from __future__ import annotations

import asyncio
from collections import deque

from cerebrum.core.errors import OverloadedError


class Limiter:
    def __init__(
        self, max_in_flight: int, max_queue: int, queue_timeout: float, retry_after: int = 1
    ) -> None:
        self.max_in_flight = max_in_flight
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.retry_after = retry_after
        self.in_flight = 0
        self.shed_total = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """Take a place, waiting in the queue if need be; ``OverloadedError`` when both are full."""
        if self.in_flight < self.max_in_flight and not self._waiters:
            self.in_flight += 1
            return
        if len(self._waiters) >= self.max_queue:
            self.shed_total += 1
            raise OverloadedError(
                f"overloaded: {self.in_flight} requests in flight and {len(self._waiters)} "
                "queued; retry later",
                self.retry_after,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.queue_timeout)
        except TimeoutError:
            if waiter.done():  # handed a place just as the wait ran out: keep it
                return
            self._waiters.remove(waiter)
            waiter.cancel()
            self.shed_total += 1
            raise OverloadedError(
                f"overloaded: no place freed within {self.queue_timeout:g} s; retry later",
                self.retry_after,
            ) from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the place handed to us goes to the next in line
            else:
                self._waiters.remove(waiter)
                waiter.cancel()
            raise

    def release(self) -> None:
        """Give the place back (to the first in the queue, if any)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place passes straight to the next in line
                return
        self.in_flight -= 1
