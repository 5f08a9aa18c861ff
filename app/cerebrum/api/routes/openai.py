"""OpenAI-compatible POST /v1/completions and /v1/chat/completions (streaming or not).

Same routing, prompt pipeline and protection as the native routes; answers in OpenAI's
shapes, streams ending with ``data: [DONE]``, so editor plugins and the ``openai`` client
work unchanged. A failure after a stream started is sent as ``data: {"error": {...}}``
(which the ``openai`` client raises as an APIError), then ``[DONE]``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api import jobs, sse
from cerebrum.api.errors import error_body, stream_failure
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import (
    ChatChoiceMessage,
    ChatChunkChoice,
    ChatDelta,
    CompletionChoice,
    OpenAIChatCompletion,
    OpenAIChatCompletionChunk,
    OpenAIChatRequest,
    OpenAICompletion,
    OpenAICompletionRequest,
    Usage,
)
from cerebrum.api.services import Services, services
from cerebrum.core.documents import Origin
from cerebrum.retrieval import Message, PromptRequest

DEFAULT_COMPLETION_TOKENS = 16  # OpenAI's default for /v1/completions
DEFAULT_CHAT_TOKENS = 256


async def _prepare(
    request: Request,
    svc: Services,
    body: OpenAICompletionRequest | OpenAIChatRequest,
    prompt: PromptRequest,
) -> jobs.Job:
    """The generation of either route: the body's model, temperature, stop words, sampling."""
    return await jobs.prepare(
        svc,
        model=body.model,
        prompt=prompt,
        temperature=body.temperature,
        stop=body.stop_words(),
        sampling=body.sampling(),
        request=request,
        origin=Origin(request.state.client, "openai"),
    )


async def completions(request: Request) -> Response:
    svc = services(request)
    body = await jobs.parse(request, OpenAICompletionRequest)
    prompt = PromptRequest(
        prompt=body.prompt_text(),
        suffix=body.suffix,
        max_tokens=body.max_tokens or DEFAULT_COMPLETION_TOKENS,
    )
    job = await _prepare(request, svc, body, prompt)
    ident, created, model = f"cmpl-{request.state.request_id}", int(time.time()), job.spec.alias

    def completion(choices: list[CompletionChoice], usage: Usage | None = None) -> OpenAICompletion:
        """The answer, each event of the stream, and its last event (usage, no choice)."""
        answer: OpenAICompletion = {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if usage is not None:
            answer["usage"] = usage
        return answer

    def choice(text: str, finish: str | None) -> CompletionChoice:
        return {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}

    if body.stream:
        return _stream_response(
            svc,
            job,
            body,
            lambda text, finish: completion([choice(text, finish)]),
            lambda usage: completion([], usage),
        )
    return await _collected_response(
        request,
        svc,
        job,
        lambda result: completion([choice(result.text, result.finish_reason)], _usage(result)),
    )


async def chat_completions(request: Request) -> Response:
    svc = services(request)
    body = await jobs.parse(request, OpenAIChatRequest)
    turns = [Message(_role(m.role), m.text()) for m in body.messages]
    prompt = PromptRequest(
        prompt=turns[-1].content,
        history=tuple(turns[:-1]),
        max_tokens=body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_TOKENS,
    )
    job = await _prepare(request, svc, body, prompt)
    ident, created, model = f"chatcmpl-{request.state.request_id}", int(time.time()), job.spec.alias
    if body.stream:
        started = [False]

        def chunk(
            choices: list[ChatChunkChoice], usage: Usage | None = None
        ) -> OpenAIChatCompletionChunk:
            event: OpenAIChatCompletionChunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
            }
            if usage is not None:
                event["usage"] = usage
            return event

        def event_for(text: str, finish: str | None) -> OpenAIChatCompletionChunk:
            delta: ChatDelta = {"content": text} if text or finish is None else {}
            if not started[0]:
                started[0] = True
                delta["role"] = "assistant"
            return chunk([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}])

        return _stream_response(svc, job, body, event_for, lambda usage: chunk([], usage))

    def answer(result: jobs.Result) -> OpenAIChatCompletion:
        message: ChatChoiceMessage = {"role": "assistant", "content": result.text}
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": result.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": _usage(result),
        }

    return await _collected_response(request, svc, job, answer)


EventFor = Callable[[str, str | None], Mapping[str, Any]]  # a piece's text, finish reason
UsageEvent = Callable[[Usage], Mapping[str, Any]]


def _stream_response(
    svc: Services,
    job: jobs.Job,
    body: OpenAICompletionRequest | OpenAIChatRequest,
    event_for: EventFor,
    usage_event: UsageEvent,
) -> Response:
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    events = _stream(svc, job, event_for, usage_event if include_usage else None)
    return sse.EventStream(
        events,
        ping_interval=svc.settings.ping_interval,
        send_timeout=svc.settings.send_timeout,
    )


async def _collected_response(
    request: Request,
    svc: Services,
    job: jobs.Job,
    answer: Callable[[jobs.Result], Mapping[str, Any]],
) -> Response:
    """The whole generation as one JSON answer; 499 (logged) when the client left first."""
    result = await jobs.until_disconnect(request, jobs.collect(svc, job))
    if result is None:
        return Response(status_code=499)
    return JSONResponse(answer(result))


async def _stream(
    svc: Services,
    job: jobs.Job,
    event_for: EventFor,
    usage_event: UsageEvent | None,
) -> AsyncGenerator[bytes, None]:
    try:
        result = jobs.Result()
        async with aclosing(jobs.pieces(svc, job)) as stream:
            async for piece, tracker in stream:
                result.tokens = tracker.tokens
                if piece.text:
                    yield sse.event(event_for(piece.text, None))
                if piece.done:
                    result.prompt_tokens = piece.prompt_tokens
                    result.cached_tokens = piece.cached_tokens
                    if piece.completion_tokens is not None:
                        result.tokens = piece.completion_tokens
                    yield sse.event(event_for("", piece.finish_reason or "stop"))
        if usage_event is not None:
            yield sse.event(usage_event(_usage(result)))
    except Exception as exc:
        failure = stream_failure(exc)
        yield sse.event(error_body(failure.kind, failure.message))
    yield sse.DONE


def _usage(result: jobs.Result) -> Usage:
    prompt_tokens = result.prompt_tokens or 0
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": result.tokens,
        "total_tokens": prompt_tokens + result.tokens,
        "prompt_tokens_details": {"cached_tokens": result.cached_tokens or 0},
    }


def _role(role: str) -> str:
    return "system" if role == "developer" else role
