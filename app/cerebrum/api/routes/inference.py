"""POST /v1/complete and /v1/complete/stream: the seed's completion API."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api import jobs, sse
from cerebrum.api.errors import error_detail, stream_failure
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import CompleteRequest, CompleteResponse
from cerebrum.api.services import Services, services
from cerebrum.core.documents import Origin
from cerebrum.retrieval import PromptRequest, Snippet


async def _job(svc: Services, body: CompleteRequest, request: Request) -> jobs.Job:
    prompt = PromptRequest(
        prompt=body.prompt,
        language=body.language,
        context=tuple(Snippet(item.text, item.path) for item in body.context),
        suffix=body.suffix,
        max_tokens=body.max_tokens,
    )
    return await jobs.prepare(
        svc,
        model=body.model,
        prompt=prompt,
        temperature=body.temperature,
        stop=body.stop,
        request=request,
        origin=Origin(
            request.state.client, "complete", body.session or "", exclusive=bool(body.session)
        ),
    )


async def complete(request: Request) -> Response:
    """Generate a completion and answer once it is finished."""
    svc = services(request)
    job = await _job(svc, await jobs.parse(request, CompleteRequest), request)
    result = await jobs.until_disconnect(request, jobs.collect(svc, job))
    if result is None:
        return Response(status_code=499)  # the client left; nobody reads this
    body = CompleteResponse(
        request_id=request.state.request_id,
        model=job.spec.alias,
        backend_model=job.spec.model,
        completion=result.text,
        finish_reason=result.finish_reason,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.tokens,
        total_tokens=result.tokens,
        inference_time=round(result.elapsed, 3),
        time_to_first_token=None if result.ttft is None else round(result.ttft, 4),
        tokens_per_second=None
        if result.tokens_per_second is None
        else round(result.tokens_per_second, 2),
        cached_tokens=result.cached_tokens,
        pipeline=job.prompt_plan.summary() if job.prompt_plan else {},
    )
    return JSONResponse(body.model_dump(mode="json"))


async def complete_stream(request: Request) -> Response:
    """Stream the completion as SSE in the seed's shape (token events, then one done event)."""
    svc = services(request)
    job = await _job(svc, await jobs.parse(request, CompleteRequest), request)
    return sse.EventStream(
        _events(svc, job),
        ping_interval=svc.settings.ping_interval,
        send_timeout=svc.settings.send_timeout,
    )


async def _events(svc: Services, job: jobs.Job) -> AsyncGenerator[bytes, None]:
    started = time.perf_counter()
    total = 0
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    try:
        async with aclosing(jobs.pieces(svc, job)) as stream:
            async for piece, tracker in stream:
                total = tracker.tokens
                if piece.text:
                    yield sse.token_event(piece.text, total)
                if piece.done:
                    if piece.completion_tokens is not None:
                        total = piece.completion_tokens
                    prompt_tokens, cached_tokens = piece.prompt_tokens, piece.cached_tokens
        elapsed = time.perf_counter() - started
        yield sse.done_event(total, elapsed, None, prompt_tokens, cached_tokens)
    except Exception as exc:
        failure = stream_failure(exc)
        error = error_detail(failure.kind, failure.message)
        yield sse.done_event(total, time.perf_counter() - started, error=error)
