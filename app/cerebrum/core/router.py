"""Choose a backend, fail over, retry before the first token, stream the rest.

Only a failure of the backend itself counts: its circuit breaker records it, and before the
first piece the generation is retried (tenacity) on a backend that may take it. A failure
the request caused (the backend refused its parameters, its answer outgrew a bound) answers
that request alone: not recorded, not retried, so one client cannot open a circuit for
everyone. Whose failure it is comes with the exception (``BackendError.blame``, see
``core/errors.py``); when either could be to blame (llama-server's own 500 answer, an
answer too large or malformed, a broken stream, no first token in time), the backend's
``/health`` settles it: a backend that answers ok is well, so the request caused it. (A
backend whose HTTP side answers while its generation loop hangs is then not charged for
the timeouts: each such request still ends with its 504.)

Once the first piece exists a generation is never replayed. A backend that refuses the
orchestrator's key counts as failing (a half-finished key rotation must not fail every
other request): the request moves to a backend not tried yet, never back to one that
refused the key. A backend with an open circuit is skipped, and when every backend of a
model is open the request fails at once.

Clients see a backend by its name (``backend 2``, in configuration order), never its URL;
each failure is logged with both. A stream yields to the event loop after every
``_SLICE_BYTES`` of events handled, so one fast, large answer cannot hold the
loop: the work between two awaits is bounded by one event (CEREBRUM_BACKEND_MAX_BYTES).

The router owns each backend's count of open streams (``Backend.in_flight``): it chooses by
it, and it is the only code that changes it. A generation of a document goes to the
document's backend and slot (``core.documents.Placement``), pinned with ``id_slot``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace

import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from cerebrum.core.breaker import CircuitBreaker
from cerebrum.core.documents import Document, Placement
from cerebrum.core.errors import (
    BackendAuthError,
    BackendError,
    BackendTimeoutError,
    Blame,
    CircuitOpenError,
)
from cerebrum.core.generation import Generation, Piece
from cerebrum.core.llama_server import LlamaServerClient, Upstream

log = logging.getLogger("cerebrum.router")

_CLOSE_TIMEOUT = 2.0
_SLICE_BYTES = 65536  # answer bytes handled between two yields to the event loop


@dataclass(slots=True)
class Backend:
    client: LlamaServerClient
    breaker: CircuitBreaker
    in_flight: int = 0  # streams open on it (opening, or yielding pieces)

    @property
    def url(self) -> str:
        return self.client.url

    @property
    def name(self) -> str:
        """What clients see instead of the URL (``backend 2``)."""
        return self.client.name


@dataclass(slots=True)
class _Started:
    backend: Backend
    upstream: Upstream
    first: Piece


def _retryable(exc: BaseException) -> bool:
    """A failure of the backend itself (settled before this is asked): worth another try."""
    return isinstance(exc, BackendError) and exc.charged_to_backend


class Router:
    def __init__(
        self,
        backends: Sequence[Backend],
        *,
        retries: int,
        first_token_timeout: float,
        idle_timeout: float,
        slots: int,
        retry_wait: float = 0.1,
    ) -> None:
        self._backends = {backend.url: backend for backend in backends}
        self.slots = slots
        self.placement = Placement(slots)
        self.retries = retries
        self.first_token_timeout = first_token_timeout
        self.idle_timeout = idle_timeout
        self.retry_wait = retry_wait
        self._turn = itertools.count()

    @property
    def backends(self) -> list[Backend]:
        return list(self._backends.values())

    def check(self, urls: Sequence[str]) -> None:
        """Fail fast (``CircuitOpenError``) when no backend in ``urls`` would take a request."""
        self._candidates(urls)

    def choose(
        self, urls: Sequence[str], exclude: Sequence[str] = (), document: Document | None = None
    ) -> Backend:
        """The backend for the next attempt; those in ``exclude`` (already tried) are avoided
        while another one is available.

        A ``document`` goes to its home (the backend and slot whose KV cache holds its
        prompt) while that backend is available and not tried yet, else it is placed anew
        by free slots and load (``Placement.place``). Without one, the backend with the
        fewest requests in flight (ties take turns).
        """
        candidates = self._candidates(urls)
        fresh = [backend for backend in candidates if backend.url not in exclude] or candidates
        if document is not None:
            home = self.placement.place(document, {b.url: b.in_flight for b in fresh})
            return self._backends[home.url]
        least = min(backend.in_flight for backend in fresh)
        best = [backend for backend in fresh if backend.in_flight == least]
        if len(best) == 1:  # no tie: the turn is not used up (a failover keeps the rotation)
            return best[0]
        return best[next(self._turn) % len(best)]

    async def generate(
        self, urls: Sequence[str], generation: Generation, document: Document | None = None
    ) -> AsyncGenerator[Piece, None]:
        """Stream a generation's pieces; the upstream is closed when the caller stops.

        Use it with ``contextlib.aclosing`` so that a cancelled or abandoned consumer
        closes the backend connection at once (which frees llama-server's slot).
        """
        started = await self._start(urls, generation, document)
        backend, upstream = started.backend, started.upstream
        try:
            yield started.first
            if started.first.done:
                return
            checkpoint = upstream.handled
            while True:
                try:
                    try:
                        piece = upstream.ready()  # already here: no timer needed
                        if piece is None:
                            async with asyncio.timeout(self.idle_timeout):
                                piece = await anext(upstream)
                    except TimeoutError:
                        raise BackendTimeoutError(
                            f"{backend.name} sent nothing for {self.idle_timeout:g} s"
                        ) from None
                except BackendError as exc:
                    await _close(upstream)  # before asking its /health: frees the slot
                    await self._settle(backend, exc)
                    if exc.charged_to_backend:
                        backend.breaker.record_failure(exc.kind)
                    raise
                yield piece
                if piece.done:
                    return
                if upstream.handled - checkpoint >= _SLICE_BYTES:
                    await asyncio.sleep(0)  # reading and parsing did not wait: let others run
                    checkpoint = upstream.handled
        finally:
            await _close(upstream)
            backend.in_flight -= 1
            log.debug("upstream closed", extra={"backend": backend.name, "url": backend.url})

    async def _start(
        self, urls: Sequence[str], generation: Generation, document: Document | None
    ) -> _Started:
        tried: list[str] = []
        started: _Started | None = None
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.retry_wait, max=2.0)
            + wait_random(0, self.retry_wait),
            # a failure that opened the last circuit ends the retries with its own message
            retry=retry_if_exception(lambda exc: self._worth_retrying(exc, urls, tried)),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                backend = self.choose(urls, exclude=tried, document=document)
                tried.append(backend.url)
                started = await self._start_on(backend, _pinned(generation, document))
        assert started is not None
        return started

    async def _start_on(self, backend: Backend, generation: Generation) -> _Started:
        """Open the stream on one backend and wait for its first piece."""
        if not backend.breaker.acquire():
            raise self._circuit_open([backend])
        backend.in_flight += 1
        upstream: Upstream | None = None
        verdict = False
        try:
            try:
                try:
                    async with asyncio.timeout(self.first_token_timeout):
                        upstream = await backend.client.open(generation)
                        first = await anext(upstream)
                except TimeoutError:
                    raise BackendTimeoutError(
                        f"no first token from {backend.name} within {self.first_token_timeout:g} s"
                    ) from None
            except BackendError as exc:
                if upstream is not None:
                    await _close(upstream)  # before asking its /health: frees the slot
                    upstream = None
                await self._settle(backend, exc)
                if exc.charged_to_backend:
                    verdict = True
                    backend.breaker.record_failure(exc.kind)
                raise
            verdict = True
            backend.breaker.record_success()
            return _Started(backend, upstream, first)
        except BaseException:
            if not verdict:
                backend.breaker.release()  # cancelled, or the request's own failure
            if upstream is not None:
                await _close(upstream)
            backend.in_flight -= 1
            raise

    async def _settle(self, backend: Backend, exc: BackendError) -> None:
        """Decide whose failure ``exc`` is when either could be to blame (a backend that
        answers its /health ok is well: the request caused it), and log it with the URL."""
        if exc.blame is Blame.UNKNOWN:
            healthy = await backend.client.alive()
            exc.blame = Blame.REQUEST if healthy else Blame.BACKEND
            if healthy:
                exc.message += f" ({backend.name} is healthy: this request caused it)"
        charged = exc.charged_to_backend
        log.log(
            logging.WARNING if charged else logging.INFO,
            "backend failed" if charged else "request failed on a backend",
            extra={
                "backend": backend.name,
                "url": backend.url,
                "error_type": exc.kind,
                "error": exc.message,
                "detail": exc.internal,
            },
        )

    def _available(self, urls: Sequence[str], exclude: Sequence[str] = ()) -> bool:
        return any(self._backends[url].breaker.available() for url in urls if url not in exclude)

    def _worth_retrying(self, exc: BaseException, urls: Sequence[str], tried: list[str]) -> bool:
        """Retry while a backend may take it; after a refused key, only one not tried yet."""
        if not _retryable(exc):
            return False
        return self._available(urls, exclude=tried if isinstance(exc, BackendAuthError) else ())

    def _candidates(self, urls: Sequence[str]) -> list[Backend]:
        backends = [self._backends[url] for url in urls]
        candidates = [backend for backend in backends if backend.breaker.available()]
        if not candidates:
            raise self._circuit_open(backends)
        return candidates

    @staticmethod
    def _circuit_open(backends: Sequence[Backend]) -> CircuitOpenError:
        retry_after = min(backend.breaker.retry_after() for backend in backends)
        names = ", ".join(backend.name for backend in backends)
        last = sorted({b.breaker.last_failure for b in backends if b.breaker.last_failure})
        why = f" (last: {', '.join(last)})" if last else ""
        return CircuitOpenError(
            f"circuit open for {names} after repeated failures{why}; retry in {retry_after} s",
            retry_after=retry_after,
            internal=", ".join(backend.url for backend in backends),
        )


def _pinned(generation: Generation, document: Document | None) -> Generation:
    """The generation on its document's slot (``choose`` has just placed it)."""
    if document is None or document.home is None:
        return generation
    return replace(generation, slot=document.home.slot)


async def _close(upstream: Upstream) -> None:
    """Close the backend connection even while the caller is being cancelled."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
        await upstream.aclose()


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "retrying before the first token",
        extra={
            "attempt": state.attempt_number,
            "error": exc.message if isinstance(exc, BackendError) else str(exc),
        },
    )
