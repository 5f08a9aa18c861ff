"""POST /v1/complete and /v1/complete/stream: the seed API's completion (README, "Seed API")."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api import sse
from cerebrum.api.errors import Failure, error_detail
from cerebrum.api.incoming import parse
from cerebrum.api.journey import Journey, Options, Outcome
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import CompleteRequest, CompleteResponse
from cerebrum.api.services import services
from cerebrum.core.documents import Origin
from cerebrum.core.generation import Piece
from cerebrum.retrieval import PromptRequest, Snippet


async def _journey(request: Request) -> Journey:
    body = await parse(request, CompleteRequest)
    prompt = PromptRequest(
        prompt=body.prompt,
        language=body.language,
        context=tuple(Snippet(item.text, item.path) for item in body.context),
        suffix=body.suffix,
        max_tokens=body.max_tokens,
    )
    return await Journey.through_pipeline(
        request,
        services(request).registry.resolve(body.model),
        prompt,
        origin=Origin(
            request.state.client, "complete", body.session or "", exclusive=bool(body.session)
        ),
        options=Options(temperature=body.temperature, stop=body.stop),
    )


async def complete(request: Request) -> Response:
    """Generate a completion and answer once it is finished."""
    journey = await _journey(request)

    def render(outcome: Outcome) -> Response:
        plan = journey.prompt_plan
        body = CompleteResponse(
            request_id=request.state.request_id,
            model=journey.spec.alias,
            backend_model=journey.spec.model,
            completion=outcome.text,
            finish_reason=outcome.finish_reason,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.tokens,
            total_tokens=outcome.tokens,
            inference_time=round(outcome.elapsed, 3),
            time_to_first_token=None if outcome.ttft is None else round(outcome.ttft, 4),
            tokens_per_second=None
            if outcome.tokens_per_second is None
            else round(outcome.tokens_per_second, 2),
            cached_tokens=outcome.cached_tokens,
            pipeline=plan.summary() if plan else {},
        )
        return JSONResponse(body.model_dump(mode="json"))

    return await journey.answer(render)


async def complete_stream(request: Request) -> Response:
    """Stream the completion as SSE in the seed API's shape (token events, one done event)."""
    return (await _journey(request)).stream(SeedEvents())


class SeedEvents:
    """A token event per piece of text, then one done event (carrying the error, if any)."""

    def piece(self, piece: Piece, outcome: Outcome) -> Iterator[bytes]:
        if piece.text:
            yield sse.token_event(piece.text, outcome.tokens)

    def end(self, outcome: Outcome) -> Iterator[bytes]:
        yield sse.done_event(
            outcome.tokens, outcome.elapsed, None, outcome.prompt_tokens, outcome.cached_tokens
        )

    def failure(self, failure: Failure, outcome: Outcome) -> Iterator[bytes]:
        error = error_detail(failure.kind, failure.message)
        yield sse.done_event(outcome.tokens, outcome.elapsed, error=error)
