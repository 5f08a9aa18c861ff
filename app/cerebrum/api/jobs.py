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
from cerebrum.api.sessions import Memory, Session
from cerebrum.core.errors import CerebrumError, SupersededError
from cerebrum.core.generation import Generation, Piece
from cerebrum.core.registry import ModelSpec
from cerebrum.core.stats import Tracker
from cerebrum.core.supersede import Ticket
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
    affinity: str | None = None  # the session key: its backend holds its prompt
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
    session: Session | None = None,
    completions: int = 1,
) -> Job:
    """Resolve the model and build the prompt; with `request`, a client that leaves while a
    large prompt is being built stops that work (and gets 499).

    With a `session`, the prompt keeps the layout of the session's previous one, a warm-up
    (no prompt, nothing to generate) leaves room for what the session's completions add,
    the job goes to the session's backend, and an exclusive session's newer request
    supersedes this one from the moment this one arrives.
    """
    spec = svc.registry.resolve(model)
    logs.annotate(model=spec.alias)
    affinity, ticket = _enter(svc, spec, session)
    try:
        built = await _build_for(svc, spec, prompt, request, affinity)
        svc.router.check(spec.backends)
    except BaseException:
        svc.sessions.supersede.leave(ticket)
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
    return Job(spec, built, generation, affinity, ticket)


def passthrough(
    svc: Services,
    spec: ModelSpec,
    prompt: str | list[Any],
    *,
    max_tokens: int,
    temperature: float | None = None,
    stop: Sequence[str] = (),
    sampling: Mapping[str, Any] | None = None,
    session: Session | None = None,
    completions: int = 1,
) -> Job:
    """A job for a prompt the client wrote itself (llama.cpp's /completion): no pipeline,
    the same routing, session affinity and protection as every other job."""
    logs.annotate(model=spec.alias)
    svc.router.check(spec.backends)
    affinity, ticket = _enter(svc, spec, session)
    generation = Generation(
        model=spec.model,
        max_tokens=max_tokens,
        prompt=prompt,
        temperature=temperature,
        stop=tuple(stop),
        sampling=dict(sampling or {}),
        completions=completions,
    )
    return Job(spec, None, generation, affinity, ticket)


def _enter(svc: Services, spec: ModelSpec, session: Session | None) -> tuple[str | None, Ticket]:
    """The session's key for ``spec`` (its affinity) and the request's latest-wins ticket
    (a key only for an exclusive session), entered as the request arrives."""
    affinity = session.key_for(spec.alias) if session else None
    exclusive = affinity if session is not None and session.exclusive else None
    return affinity, svc.sessions.supersede.enter(exclusive)


async def _build_for(
    svc: Services,
    spec: ModelSpec,
    prompt: PromptRequest,
    request: Request | None,
    affinity: str | None,
) -> PromptPlan:
    """The prompt for ``spec``, built with what the session remembers and with exact token
    counts where they are known; built once more when context was left out for the budget
    and the backend's tokenizer could count the estimated parts."""
    memory = svc.sessions.recall(affinity) if affinity else None
    warmup = prompt.max_tokens == 0 and not prompt.prompt and not prompt.suffix
    # A warm-up leaves the room the session's last completion needed; the first one of a
    # session fills the budget, and the completion after it keeps its chunks in order while
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
        backend = svc.router.choose(spec.backends, affinity=affinity).client
        timeout = svc.settings.health_timeout
        found = await svc.token_counts.count(backend, spec.model, built.uncounted, timeout)
        if found:
            logs.annotate(tokens_counted=len(found))
            built = await _build(svc, prompt, spec.profile, request)
    if affinity is not None:
        own = built.own_tokens + prompt.max_tokens
        layout = tuple(chunk.id for chunk in built.chunks_used)
        svc.sessions.remember(affinity, Memory(layout, own if not warmup else reserve))
    return built


async def pieces(svc: Services, job: Job) -> AsyncGenerator[tuple[Piece, Tracker], None]:
    """The job's pieces as they come, each with the tracker that times the request.

    A job whose session gets a newer request stops (SupersededError), wherever it is."""
    tracker = svc.stats.begin(job.spec.alias, job.affinity)  # operator: usage per session
    superseded = job.ticket.superseded
    try:
        stream = svc.router.generate(job.spec.backends, job.generation, job.affinity)
        async with aclosing(stream) as upstream:
            while True:
                if job.ticket.key is None:
                    piece = await anext(upstream, None)
                else:
                    piece = await _next_unless(superseded, upstream)
                if piece is None:
                    break
                if piece.tokens or piece.text:
                    tracker.add(piece.tokens or 1, piece.text)  # operator: acceptance
                if piece.done:
                    tracker.prompt(piece.prompt_tokens, piece.cached_tokens)
                yield piece, tracker
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
        svc.sessions.supersede.leave(job.ticket)


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
    raise SupersededError("a newer request of the same session arrived")


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
