"""The journey's prompt stage: the prompt for one model, built with what its document remembers.

Exact token counts are used where they are known; when context was left out for the budget
and the backend's tokenizer could count the estimated parts, the prompt is built once more.
A client that leaves, or a newer request of the same document, stops the work at the next
stage (and a large build inside the pipeline at its next check).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from functools import partial
from typing import TypeVar

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request

from cerebrum import logs
from cerebrum.api.incoming import CLIENT_CLOSED, until_disconnect
from cerebrum.api.services import Services
from cerebrum.core.documents import Document, Memory, Ticket
from cerebrum.core.errors import SupersededError
from cerebrum.core.registry import ModelSpec
from cerebrum.retrieval import Deadline, PromptPlan, PromptRequest, build_prompt

log = logging.getLogger("cerebrum.prompting")

T = TypeVar("T")

_INLINE_PROMPT_CHARS = 32_768  # below this, building the prompt takes well under a millisecond


async def build(
    svc: Services,
    request: Request | None,
    spec: ModelSpec,
    prompt: PromptRequest,
    document: Document | None,
    ticket: Ticket,
) -> PromptPlan:
    """The prompt for ``spec``; with a ``document`` it keeps the layout of the document's
    previous prompt, and a warm-up (no prompt, nothing to generate) leaves room for what
    the document's completions add."""
    memory = document.memory if document else None
    warmup = prompt.max_tokens == 0 and not prompt.prompt and not prompt.suffix
    # A warm-up leaves the room the document's last completion needed; the first one of a
    # document fills the budget, and the completion after it keeps its chunks in order while
    # they fit (dropping the last ones), so the two still share the whole context.
    reserve = memory.own_tokens if warmup and memory else 0
    prompt = replace(
        prompt,
        layout=memory.layout if memory else (),
        reserve_tokens=reserve,
        token_counts=svc.token_counts.view(spec.model),
    )
    built = await _assemble(svc, request, spec, prompt, ticket)
    if built.uncounted:
        backend = svc.router.choose(spec.backends, document=document).client
        counting = svc.token_counts.count(
            backend, spec.model, built.uncounted, svc.settings.health_timeout
        )
        found = await _unless_abandoned(request, counting, ticket)
        if found:
            logs.annotate(tokens_counted=len(found))
            built = await _assemble(svc, request, spec, prompt, ticket)
    if document is not None:
        own = built.own_tokens + prompt.max_tokens
        layout = tuple(chunk.id for chunk in built.chunks_used)
        svc.documents.remember(document, Memory(layout, own if not warmup else reserve))
    return built


async def _assemble(
    svc: Services, request: Request | None, spec: ModelSpec, prompt: PromptRequest, ticket: Ticket
) -> PromptPlan:
    """Assemble the prompt within CEREBRUM_PIPELINE_TIMEOUT, with the app's pipeline cache.

    A large request is assembled in a worker thread, so that its chunking and ranking do not
    stall the other streams; if the client leaves or its document supersedes it (or this
    task is cancelled) meanwhile, the deadline is cancelled and the worker stops at its
    next check.
    """
    if ticket.superseded.is_set():
        raise SupersededError()
    deadline = Deadline(svc.settings.pipeline_timeout)
    work = partial(build_prompt, prompt, spec.profile, cache=svc.pipeline_cache, deadline=deadline)
    size = len(prompt.prompt) + sum(len(snippet.text) for snippet in prompt.context)
    size += sum(len(message.content) for message in prompt.history) + len(prompt.suffix or "")
    if size < _INLINE_PROMPT_CHARS:
        return work()
    in_thread = anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    try:
        return await _unless_abandoned(request, in_thread, ticket)
    finally:
        deadline.cancel()  # no-op once the work is done; stops it if it was abandoned


async def _unless_abandoned(request: Request | None, work: Awaitable[T], ticket: Ticket) -> T:
    """``work``'s result; 499 when the client left, SupersededError when a newer request of
    its document arrived."""
    superseded = ticket.superseded if ticket.exclusive else None
    done = await until_disconnect(request, work, superseded)
    if done is None:
        log.info("client left while its prompt was built")
        raise HTTPException(CLIENT_CLOSED, "client closed the request")
    return done
