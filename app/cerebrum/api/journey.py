"""A request's journey through the orchestrator, told once for every inference route.

    body (the route parses it) ─▶ Journey.through_pipeline / Journey.as_sent
        the model (a ModelSpec the route resolved), the document (``core.documents``:
        latest wins inside it, its backend and slot),
        the prompt (``api.prompting``: built and fitted; or the client's own, as it is)
    ─▶ pieces()   the router's stream, each piece folded into ``outcome`` as it comes
    ─▶ the route's answer: ``stream(shape)`` (SSE, in the route's event shape)
                           or ``answer(render)`` (one JSON body, 499 if the client left)

Everything that can fail before the backend is asked (unknown model, prompt too large, every
circuit open, a newer request of the document) fails while the journey is built, before a
streaming response has started, and so becomes an ordinary HTTP error. A route module says
only what differs: how its body becomes a prompt, and the shape of its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from starlette.requests import Request
from starlette.responses import Response

from cerebrum import logs
from cerebrum.api import prompting, sse
from cerebrum.api.errors import Failure, stream_failure
from cerebrum.api.incoming import client_left, until_disconnect
from cerebrum.api.services import Services, services
from cerebrum.core.documents import WINDOW, Document, Origin, Text, Ticket
from cerebrum.core.errors import CerebrumError, SupersededError
from cerebrum.core.generation import Generation, Piece
from cerebrum.core.registry import ModelSpec
from cerebrum.core.stats import Tracker
from cerebrum.retrieval import PromptPlan, PromptRequest

log = logging.getLogger("cerebrum.journey")


@dataclass(frozen=True, slots=True)
class Options:
    """What the client asks of the generation besides its prompt, in backend terms."""

    temperature: float | None = None
    stop: Sequence[str] = ()
    sampling: Mapping[str, Any] = field(default_factory=dict)  # passed on as they are
    completions: int = 1  # llama-server's n_cmpl


@dataclass(slots=True)
class Outcome:
    """What came back, folded as it streams: the running token count, then the last
    piece's figures; the text only when ``keep_text`` (an answer collected whole)."""

    keep_text: bool = False
    tokens: int = 0
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    timings: Mapping[str, Any] | None = None
    ttft: float | None = None
    tokens_per_second: float | None = None
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    _texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self._texts)

    @property
    def elapsed(self) -> float:
        """Seconds from the first request to the backend to the last piece (or now)."""
        return (self.finished or time.perf_counter()) - self.started

    def add(self, piece: Piece, tracker: Tracker) -> None:
        self.tokens = tracker.tokens
        if self.keep_text:
            self._texts.append(piece.text)
        if piece.done:
            self.finished = time.perf_counter()
            self.finish_reason = piece.finish_reason
            self.prompt_tokens = piece.prompt_tokens
            self.cached_tokens = piece.cached_tokens
            self.timings = piece.timings
            if piece.completion_tokens is not None:
                self.tokens = piece.completion_tokens
            self.ttft = tracker.ttft
            self.tokens_per_second = tracker.tokens_per_second()


class StreamShape(Protocol):
    """How a streaming route writes its events: each piece, the end, a failure after the
    stream started (the status is sent by then, so the failure is the last event)."""

    def piece(self, piece: Piece, outcome: Outcome) -> Iterable[bytes]: ...

    def end(self, outcome: Outcome) -> Iterable[bytes]: ...

    def failure(self, failure: Failure, outcome: Outcome) -> Iterable[bytes]: ...


@dataclass(slots=True, eq=False)
class Journey:
    svc: Services
    request: Request
    spec: ModelSpec
    generation: Generation
    prompt_plan: PromptPlan | None  # None: the client's prompt is sent as it is
    document: Document | None  # its backend and slot hold its prompt; ``key`` names it
    ticket: Ticket  # latest wins
    outcome: Outcome = field(default_factory=Outcome)
    _left: bool = False  # the ticket is given back once, whether pieces() ever ran or not

    @classmethod
    async def through_pipeline(
        cls,
        request: Request,
        spec: ModelSpec,
        prompt: PromptRequest,
        *,
        origin: Origin | None = None,
        options: Options = Options(),
    ) -> Journey:
        """A journey whose prompt the pipeline builds from ``prompt`` for ``spec``; a client
        that leaves while a large prompt is built stops that work (and gets 499)."""
        svc = services(request)
        logs.annotate(model=spec.alias)
        text = Text(
            "".join(message.content for message in prompt.history[-1:]) + prompt.prompt,
            prompt.suffix or "",
            tuple(snippet.text for snippet in prompt.context),
        )
        document, ticket = _enter(svc, spec, origin, text)
        try:
            built = await prompting.build(svc, request, spec, prompt, document, ticket)
            svc.router.check(spec.backends)
        except BaseException:
            svc.documents.leave(ticket)
            raise
        messages = built.messages
        generation = _generation(
            spec,
            prompt.max_tokens,
            options,
            prompt=(built.prompt or "") if messages is None else None,
            messages=None if messages is None else tuple((m.role, m.content) for m in messages),
        )
        return cls(svc, request, spec, generation, built, document, ticket)

    @classmethod
    def as_sent(
        cls,
        request: Request,
        spec: ModelSpec,
        prompt: str | list[Any],
        *,
        max_tokens: int,
        origin: Origin | None = None,
        options: Options = Options(),
    ) -> Journey:
        """A journey for a prompt the client wrote itself (llama.cpp's /completion): no
        pipeline, the same routing, document placement and protection as every other one."""
        svc = services(request)
        logs.annotate(model=spec.alias)
        svc.router.check(spec.backends)
        document, ticket = _enter(svc, spec, origin, Text(_text_of(prompt)))
        generation = _generation(spec, max_tokens, options, prompt=prompt)
        return cls(svc, request, spec, generation, None, document, ticket)

    async def pieces(self) -> AsyncGenerator[Piece, None]:
        """The generation's pieces as they come, each folded into ``outcome`` first.

        A journey whose document gets a newer request stops (SupersededError), wherever it
        is; closing this generator closes the backend stream."""
        svc, outcome = self.svc, self.outcome
        key = self.document.key if self.document is not None else None
        tracker = svc.stats.begin(self.spec.alias, key)  # usage and acceptance per document
        outcome.started = tracker.started
        try:
            stream = svc.router.generate(self.spec.backends, self.generation, self.document)
            async with aclosing(stream) as upstream:
                while True:
                    if not self.ticket.exclusive:
                        piece = await anext(upstream, None)
                    else:
                        piece = await _next_unless(self.ticket.superseded, upstream)
                    if piece is None:
                        break
                    if piece.tokens or piece.text:
                        tracker.add(piece.tokens or 1, piece.text)
                    if piece.done:
                        tracker.prompt(piece.prompt_tokens, piece.cached_tokens)
                    outcome.add(piece, tracker)
                    yield piece
        except SupersededError:
            tracker.finish(superseded=True)
            log.info("superseded by a newer request of its document")
            raise
        except CerebrumError as exc:
            tracker.finish(error=exc.kind)
            log.warning("generation failed", extra={"error_type": exc.kind, "error": exc.message})
            raise
        except Exception:
            tracker.finish(error="internal_error")
            raise
        except BaseException:
            tracker.finish(cancelled=True)
            raise
        else:
            tracker.finish()
            logs.annotate(
                tokens=tracker.tokens,
                ttft_ms=None if tracker.ttft is None else round(tracker.ttft * 1000, 1),
            )
        finally:
            self._leave()

    async def answer(
        self,
        render: Callable[[Outcome], Response],
        each: Callable[[Piece], None] | None = None,
    ) -> Response:
        """Run the journey to the end (``each`` sees every piece) and ``render`` the
        outcome; 499 when the client hung up first (the generation is stopped)."""
        self.outcome.keep_text = True
        try:
            done = await until_disconnect(self.request, self._run(each))
        finally:
            self._leave()  # a client gone before the generation started holds no ticket
        return client_left() if done is None else render(self.outcome)

    def stream(self, shape: StreamShape, ping: bytes = sse.PING) -> Response:
        """The journey as Server-Sent Events in ``shape``."""
        settings = self.svc.settings
        return sse.EventStream(
            self._events(shape),
            ping_interval=settings.ping_interval,
            send_timeout=settings.send_timeout,
            ping=ping,
            on_close=self._leave,
        )

    def _leave(self) -> None:
        if not self._left:
            self._left = True
            self.svc.documents.leave(self.ticket)

    async def _run(self, each: Callable[[Piece], None] | None) -> Outcome:
        async with aclosing(self.pieces()) as pieces:
            async for piece in pieces:
                if each is not None:
                    each(piece)
        return self.outcome

    async def _events(self, shape: StreamShape) -> AsyncGenerator[bytes, None]:
        outcome = self.outcome
        try:
            async with aclosing(self.pieces()) as pieces:
                async for piece in pieces:
                    for data in shape.piece(piece, outcome):
                        yield data
            for data in shape.end(outcome):
                yield data
        except Exception as exc:
            for data in shape.failure(stream_failure(exc), outcome):
                yield data


def _generation(
    spec: ModelSpec,
    max_tokens: int,
    options: Options,
    *,
    prompt: str | list[Any] | None = None,
    messages: tuple[tuple[str, str], ...] | None = None,
) -> Generation:
    return Generation(
        model=spec.model,
        max_tokens=max_tokens,
        prompt=prompt,
        messages=messages,
        temperature=options.temperature,
        stop=tuple(options.stop),
        sampling=dict(options.sampling),
        completions=options.completions,
    )


def _enter(
    svc: Services, spec: ModelSpec, origin: Origin | None, text: Text
) -> tuple[Document | None, Ticket]:
    """The request's document and its latest-wins ticket, entered as the request arrives."""
    if origin is None:
        return None, Ticket(None)
    document = svc.documents.recognise(origin, spec.alias, text)
    logs.annotate(document=document.key)
    return document, svc.documents.enter(document, origin.exclusive)


def _text_of(prompt: str | list[Any]) -> str:
    """A client's own prompt as text for recognising its document: a string as it is, the
    strings of a mixed list (token ids left out), at most the last WINDOW characters."""
    if isinstance(prompt, str):
        return prompt
    parts: list[str] = []
    size = 0
    for part in reversed(prompt):
        if isinstance(part, str):
            parts.append(part)
            size += len(part)
            if size >= WINDOW:
                break
    return "".join(reversed(parts))


async def _next_unless(
    superseded: anyio.Event, upstream: AsyncGenerator[Piece, None]
) -> Piece | None:
    """The next piece (None at the end), unless ``superseded`` is set first: then the wait
    is cancelled (which closes the backend stream) and SupersededError raised."""
    if not superseded.is_set():
        work = asyncio.ensure_future(anext(upstream, None))
        stop = asyncio.ensure_future(superseded.wait())
        try:
            await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        if not work.cancelled():
            return work.result()
    raise SupersededError()
