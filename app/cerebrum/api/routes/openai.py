"""OpenAI-compatible POST /v1/completions and /v1/chat/completions (streaming or not).

Same journey (routing, prompt pipeline, protection) as the seed API and llama.cpp's
routes; answers in OpenAI's shapes, streams ending with ``data: [DONE]``, so editor plugins
and the ``openai`` client work unchanged. A failure after a stream started is sent as
``data: {"error": {...}}`` (which the ``openai`` client raises as an APIError), then
``[DONE]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api import sse
from cerebrum.api.errors import Failure, error_body
from cerebrum.api.incoming import parse
from cerebrum.api.journey import Journey, Options, Outcome
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import (
    ChatChoice,
    ChatChoiceMessage,
    ChatChunkChoice,
    ChatDelta,
    CompletionChoice,
    OpenAIChatRequest,
    OpenAICompletionRequest,
    Usage,
)
from cerebrum.api.services import services
from cerebrum.core.documents import Origin
from cerebrum.core.generation import Piece
from cerebrum.retrieval import Message, PromptRequest

DEFAULT_COMPLETION_TOKENS = 16  # OpenAI's default for /v1/completions
DEFAULT_CHAT_TOKENS = 256


async def _journey(
    request: Request, body: OpenAICompletionRequest | OpenAIChatRequest, prompt: PromptRequest
) -> Journey:
    """The journey of either route: the body's model, temperature, stop words, sampling."""
    return await Journey.through_pipeline(
        request,
        services(request).registry.resolve(body.model),
        prompt,
        origin=Origin(request.state.client, "openai"),
        options=Options(
            temperature=body.temperature, stop=body.stop_words(), sampling=body.sampling()
        ),
    )


async def completions(request: Request) -> Response:
    body = await parse(request, OpenAICompletionRequest)
    prompt = PromptRequest(
        prompt=body.prompt_text(),
        suffix=body.suffix,
        max_tokens=body.max_tokens or DEFAULT_COMPLETION_TOKENS,
    )
    journey = await _journey(request, body, prompt)
    answer = Envelope.of(request, journey, "cmpl", "text_completion")

    def choice(text: str, finish: str | None) -> CompletionChoice:
        return {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}

    if body.stream:
        return journey.stream(
            OpenAIEvents(
                lambda text, finish: answer.wrap([choice(text, finish)]),
                answer.wrap if _include_usage(body) else None,
            )
        )
    return await journey.answer(
        lambda outcome: JSONResponse(
            answer.wrap([choice(outcome.text, outcome.finish_reason)], _usage(outcome))
        )
    )


async def chat_completions(request: Request) -> Response:
    body = await parse(request, OpenAIChatRequest)
    turns = [Message(_role(m.role), m.text()) for m in body.messages]
    prompt = PromptRequest(
        prompt=turns[-1].content,
        history=tuple(turns[:-1]),
        max_tokens=body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_TOKENS,
    )
    journey = await _journey(request, body, prompt)
    if body.stream:
        chunk = Envelope.of(request, journey, "chatcmpl", "chat.completion.chunk")
        started = [False]

        def event_for(text: str, finish: str | None) -> dict[str, Any]:
            delta: ChatDelta = {"content": text} if text or finish is None else {}
            if not started[0]:
                started[0] = True
                delta["role"] = "assistant"
            choice: ChatChunkChoice = {
                "index": 0, "delta": delta, "finish_reason": finish, "logprobs": None,
            }  # fmt: skip
            return chunk.wrap([choice])

        return journey.stream(OpenAIEvents(event_for, chunk.wrap if _include_usage(body) else None))
    completion = Envelope.of(request, journey, "chatcmpl", "chat.completion")

    def answer(outcome: Outcome) -> Response:
        message: ChatChoiceMessage = {"role": "assistant", "content": outcome.text}
        choice: ChatChoice = {
            "index": 0, "message": message, "finish_reason": outcome.finish_reason,
            "logprobs": None,
        }  # fmt: skip
        return JSONResponse(completion.wrap([choice], _usage(outcome)))

    return await journey.answer(answer)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every answer and stream event of one request carries around its choices (its
    shapes: OpenAICompletion, OpenAIChatCompletion, OpenAIChatCompletionChunk)."""

    id: str
    object: str
    created: int
    model: str

    @classmethod
    def of(cls, request: Request, journey: Journey, prefix: str, kind: str) -> Envelope:
        ident = f"{prefix}-{request.state.request_id}"
        return cls(ident, kind, int(time.time()), journey.spec.alias)

    def wrap(
        self, choices: Sequence[Mapping[str, Any]] = (), usage: Usage | None = None
    ) -> dict[str, Any]:
        """The envelope around ``choices``; with ``usage`` (the last event of a stream
        carries usage and no choice)."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": list(choices),
        }
        if usage is not None:
            body["usage"] = usage
        return body


EventFor = Callable[[str, str | None], Mapping[str, Any]]  # a piece's text, finish reason
UsageEvent = Callable[[Sequence[Mapping[str, Any]], Usage], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class OpenAIEvents:
    """OpenAI's stream: an event per piece of text, one with the finish reason, the usage
    event if asked for, ``[DONE]``; a failure is ``data: {"error": ...}`` then ``[DONE]``."""

    event_for: EventFor
    usage_event: UsageEvent | None  # None: the client did not ask for usage

    def piece(self, piece: Piece, outcome: Outcome) -> Iterator[bytes]:
        if piece.text:
            yield sse.event(self.event_for(piece.text, None))
        if piece.done:
            yield sse.event(self.event_for("", piece.finish_reason or "stop"))

    def end(self, outcome: Outcome) -> Iterator[bytes]:
        if self.usage_event is not None:
            yield sse.event(self.usage_event((), _usage(outcome)))
        yield sse.DONE

    def failure(self, failure: Failure, outcome: Outcome) -> Iterator[bytes]:
        yield sse.event(error_body(failure.kind, failure.message))
        yield sse.DONE


def _include_usage(body: OpenAICompletionRequest | OpenAIChatRequest) -> bool:
    return body.stream_options is not None and body.stream_options.include_usage


def _usage(outcome: Outcome) -> Usage:
    prompt_tokens = outcome.prompt_tokens or 0
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": outcome.tokens,
        "total_tokens": prompt_tokens + outcome.tokens,
        "prompt_tokens_details": {"cached_tokens": outcome.cached_tokens or 0},
    }


def _role(role: str) -> str:
    return "system" if role == "developer" else role
