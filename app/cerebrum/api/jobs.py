"""From a validated request to generated pieces: resolve the model, build the prompt, route, count.

Shared by the native and the OpenAI routes, so both go through the same registry, prompt
pipeline, circuit breakers and statistics. Everything that can fail before the backend is
asked (unknown model, prompt too large, every circuit open) fails in ``prepare``, before a
streaming response has started, and so becomes an ordinary HTTP error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request

from cerebrum import logs
from cerebrum.api.services import Services
from cerebrum.core.documents import WINDOW, Document, Memory, Origin, Text, Ticket
from cerebrum.core.errors import CerebrumError, SupersededError
from cerebrum.core.generation import Generation, Piece
from cerebrum.core.registry import ModelSpec
from cerebrum.core.stats import Tracker
from cerebrum.retrieval import Deadline, ModelProfile, PromptPlan, PromptRequest, build_prompt

log = logging.getLogger("cerebrum.jobs")

_INLINE_PROMPT_CHARS = 32_768  # below this, building the prompt takes well under a millisecond

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Job:
    spec: ModelSpec
    prompt_plan: PromptPlan | None  # None: the client's prompt is sent as it is
    generation: Generation
    document: Document | None = None  # its backend and slot hold its prompt
    ticket: Ticket = field(default_factory=lambda: Ticket(None))  # latest wins


@dataclass(slots=True)
class Result:
    """A whole generation, collected."""

    text: str = ""
    tokens: int = 0
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    elapsed: float = 0.0
    ttft: float | None = None
    tokens_per_second: float | None = None
    timings: Mapping[str, Any] | None = field(default=None)


async def parse(request: Request, model: type[M]) -> M:
    """The request body validated against ``model`` (ValidationError → 422 naming the field)."""
    return model.model_validate_json(await request.body())


async def prepare(
    svc: Services,
    *,
    model: str | None,
    prompt: PromptRequest,
    temperature: float | None = None,
    stop: Sequence[str] = (),
    sampling: Mapping[str, Any] | None = None,
    request: Request | None = None,
    origin: Origin | None = None,
    completions: int = 1,
) -> Job:
    """Resolve the model and build the prompt; with `request`, a client that leaves while a
    large prompt is being built stops that work (and gets 499).

    With an `origin`, the request belongs to a document (``core.documents``): the prompt
    keeps the layout of the document's previous one, a warm-up (no prompt, nothing to
    generate) leaves room for what the document's completions add, the job goes to the
    document's backend and slot, and an exclusive request supersedes the document's older
    one from the moment it arrives.
    """
    spec = svc.registry.resolve(model)
    logs.annotate(model=spec.alias)
    text = Text(
        "".join(message.content for message in prompt.history[-1:]) + prompt.prompt,
        prompt.suffix or "",
        tuple(snippet.text for snippet in prompt.context),
    )
    document, ticket = _enter(svc, spec, origin, text)
    try:
        built = await _build_for(svc, spec, prompt, request, document)
        svc.router.check(spec.backends)
    except BaseException:
        svc.documents.leave(ticket)
        raise
    messages = built.messages
    generation = Generation(
        model=spec.model,
        max_tokens=prompt.max_tokens,
        prompt=(built.prompt or "") if messages is None else None,
        messages=None if messages is None else tuple((m.role, m.content) for m in messages),
        temperature=temperature,
        stop=tuple(stop),
        sampling=dict(sampling or {}),
        completions=completions,
    )
    return Job(spec, built, generation, document, ticket)


def passthrough(
    svc: Services,
    spec: ModelSpec,
    prompt: str | list[Any],
    *,
    max_tokens: int,
    temperature: float | None = None,
    stop: Sequence[str] = (),
    sampling: Mapping[str, Any] | None = None,
    origin: Origin | None = None,
    completions: int = 1,
) -> Job:
    """A job for a prompt the client wrote itself (llama.cpp's /completion): no pipeline,
    the same routing, document placement and protection as every other job."""
    logs.annotate(model=spec.alias)
    svc.router.check(spec.backends)
    document, ticket = _enter(svc, spec, origin, Text(_text_of(prompt)))
    generation = Generation(
        model=spec.model,
        max_tokens=max_tokens,
        prompt=prompt,
        temperature=temperature,
        stop=tuple(stop),
        sampling=dict(sampling or {}),
        completions=completions,
    )
    return Job(spec, None, generation, document, ticket)


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


async def _build_for(
    svc: Services,
    spec: ModelSpec,
    prompt: PromptRequest,
    request: Request | None,
    document: Document | None,
) -> PromptPlan:
    """The prompt for ``spec``, built with what the document remembers and with exact token
    counts where they are known; built once more when context was left out for the budget
    and the backend's tokenizer could count the estimated parts."""
    memory = document.memory if document else None
    warmup = prompt.max_tokens == 0 and not prompt.prompt and not prompt.suffix
    # A warm-up leaves the room the document's last completion needed; the first one of a
    # document fills the budget, and the completion after it keeps its chunks in order while
    # they fit (dropping the last ones), so the two still share the whole context.
    reserve = memory.own_tokens if warmup and memory else 0
    counts = svc.token_counts.view(spec.model)
    prompt = replace(
        prompt,
        layout=memory.layout if memory else (),
        reserve_tokens=reserve,
        token_counts=counts,
    )
    built = await _build(svc, prompt, spec.profile, request)
    if built.uncounted:
        backend = svc.router.choose(spec.backends, document=document).client
        timeout = svc.settings.health_timeout
        found = await svc.token_counts.count(backend, spec.model, built.uncounted, timeout)
        if found:
            logs.annotate(tokens_counted=len(found))
            built = await _build(svc, prompt, spec.profile, request)
    if document is not None:
        own = built.own_tokens + prompt.max_tokens
        layout = tuple(chunk.id for chunk in built.chunks_used)
        svc.documents.remember(document, Memory(layout, own if not warmup else reserve))
    return built


async def pieces(svc: Services, job: Job) -> AsyncGenerator[tuple[Piece, Tracker], None]:
    """The job's pieces as they come, each with the tracker that times the request.

    A job whose document gets a newer request stops (SupersededError), wherever it is:
    latest wins, which is no failure (counted apart, logged at INFO)."""
    tracker = svc.stats.begin(job.spec.alias)
    superseded = job.ticket.superseded
    try:
        stream = svc.router.generate(job.spec.backends, job.generation, job.document)
        async with aclosing(stream) as upstream:
            while True:
                if not job.ticket.exclusive:
                    piece = await anext(upstream, None)
                else:
                    piece = await _next_unless(superseded, upstream)
                if piece is None:
                    break
                if piece.tokens or piece.text:
                    tracker.add(piece.tokens or 1)
                if piece.done:
                    tracker.prompt(piece.prompt_tokens, piece.cached_tokens)
                yield piece, tracker
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
        svc.documents.leave(job.ticket)


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
    raise SupersededError("a newer request of the same document arrived")


async def collect(svc: Services, job: Job) -> Result:
    """Run the job to the end and gather its text."""
    result = Result()
    texts: list[str] = []
    async with aclosing(pieces(svc, job)) as stream:
        async for piece, tracker in stream:
            texts.append(piece.text)
            result.tokens = tracker.tokens
            if piece.done:
                result.finish_reason = piece.finish_reason
                result.prompt_tokens = piece.prompt_tokens
                result.cached_tokens = piece.cached_tokens
                result.timings = piece.timings
                if piece.completion_tokens is not None:
                    result.tokens = piece.completion_tokens
                result.ttft = tracker.ttft
                result.tokens_per_second = tracker.tokens_per_second()
                result.elapsed = tracker.elapsed
    result.text = "".join(texts)
    return result


async def until_disconnect(request: Request, work: Awaitable[T]) -> T | None:
    """Await ``work``; None if the client hung up first (``work`` is then cancelled)."""
    outcome: list[T] = []
    failure: list[Exception] = []

    async def run(scope: anyio.CancelScope) -> None:
        try:
            outcome.append(await work)
        except Exception as exc:  # re-raised below, not wrapped in an ExceptionGroup
            failure.append(exc)
        finally:
            scope.cancel()

    async def watch(scope: anyio.CancelScope) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(run, group.cancel_scope)
        group.start_soon(watch, group.cancel_scope)
    if failure:
        raise failure[0]
    return outcome[0] if outcome else None


async def _build(
    svc: Services, prompt: PromptRequest, profile: ModelProfile, request: Request | None
) -> PromptPlan:
    """Assemble the prompt within CEREBRUM_PIPELINE_TIMEOUT, with the app's pipeline cache.

    A large request is assembled in a worker thread, so that its chunking and ranking do not
    stall the other streams; if the client leaves (or this task is cancelled) meanwhile, the
    deadline is cancelled and the worker stops at its next check.
    """
    deadline = Deadline(svc.settings.pipeline_timeout)
    work = partial(build_prompt, prompt, profile, cache=svc.pipeline_cache, deadline=deadline)
    size = len(prompt.prompt) + sum(len(snippet.text) for snippet in prompt.context)
    size += sum(len(message.content) for message in prompt.history) + len(prompt.suffix or "")
    if size < _INLINE_PROMPT_CHARS:
        return work()
    in_thread = anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    try:
        built = await (in_thread if request is None else until_disconnect(request, in_thread))
    finally:
        deadline.cancel()  # no-op once the work is done; stops it if this task was cancelled
    if built is None:
        log.info("client left while its prompt was built")
        raise HTTPException(499, "client closed the request")
    return built
