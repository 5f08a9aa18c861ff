"""Choose a backend, fail over, retry before the first token, stream the rest.

A generation is retried (tenacity) only while nothing has been produced: connection
refused, a 5xx, a stream that broke before its first token. Once the first piece exists it
is never replayed. A backend that refuses the orchestrator's key counts as failing too (a
half-finished key rotation must not fail every other request): the request moves to a
backend not tried yet, never back to one that refused the key. Each backend has a circuit
breaker; a backend with an open circuit is skipped, and when every backend of a model is
open the request fails at once.

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
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    CircuitOpenError,
)
from cerebrum.core.generation import Generation, Piece
from cerebrum.core.llama_server import LlamaServerClient, Upstream

log = logging.getLogger("cerebrum.router")

_CLOSE_TIMEOUT = 2.0


@dataclass(slots=True)
class Backend:
    client: LlamaServerClient
    breaker: CircuitBreaker
    in_flight: int = 0  # streams open on it (opening, or yielding pieces)

    @property
    def url(self) -> str:
        return self.client.url


@dataclass(slots=True)
class _Started:
    backend: Backend
    upstream: Upstream
    first: Piece


# What counts as the backend failing: the breaker records it and the request may move on.
_FAILURES = (BackendUnavailableError, BackendProtocolError, BackendAuthError)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _FAILURES) and not isinstance(exc, CircuitOpenError)


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
            while True:
                try:
                    piece = upstream.ready()  # already here: no timer needed
                    if piece is None:
                        async with asyncio.timeout(self.idle_timeout):
                            piece = await anext(upstream)
                except TimeoutError:
                    backend.breaker.record_failure(BackendTimeoutError.kind)
                    raise BackendTimeoutError(
                        f"{backend.url} sent nothing for {self.idle_timeout:g} s"
                    ) from None
                except _FAILURES as exc:
                    backend.breaker.record_failure(exc.kind)
                    raise
                yield piece
                if piece.done:
                    return
        finally:
            await _close(upstream)
            backend.in_flight -= 1
            log.debug("upstream closed", extra={"backend": backend.url})

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
                async with asyncio.timeout(self.first_token_timeout):
                    upstream = await backend.client.open(generation)
                    first = await anext(upstream)
            except TimeoutError:
                verdict = True
                backend.breaker.record_failure(BackendTimeoutError.kind)
                raise BackendTimeoutError(
                    f"no first token from {backend.url} within {self.first_token_timeout:g} s"
                ) from None
            except _FAILURES as exc:
                verdict = True
                backend.breaker.record_failure(exc.kind)
                raise
            verdict = True
            backend.breaker.record_success()
            return _Started(backend, upstream, first)
        except BaseException:
            if not verdict:
                backend.breaker.release()  # cancelled, or the backend refused the request
            if upstream is not None:
                await _close(upstream)
            backend.in_flight -= 1
            raise

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
        names = ", ".join(backend.url for backend in backends)
        last = sorted({b.breaker.last_failure for b in backends if b.breaker.last_failure})
        why = f" (last: {', '.join(last)})" if last else ""
        return CircuitOpenError(
            f"circuit open for {names} after repeated failures{why}; retry in {retry_after} s",
            retry_after=retry_after,
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
        extra={"attempt": state.attempt_number, "error": str(exc)},
    )
