"""llama.cpp's own API on the CM4: POST /infill and POST /completion.

Editor plugins written for llama-server (llama.vim and llama.vscode call /infill, Continue's
llama.cpp provider calls /completion) work against the CM4 unchanged, and get what
llama-server alone does not give them: the CM4's client keys, load shedding, failover and
circuit breakers, request ids, cancellation when they hang up, and for /infill the prompt
pipeline and a prompt cache that survives every keystroke:

- ``input_extra`` (the editor's ring of chunks from other files) goes through the pipeline
  (deduplicated, ranked, fitted to the budget with exact token counts where they are
  known); the orchestrator writes the FIM prompt itself, in the model's FIM tokens and in
  the layout llama-server's /infill uses (context files, then prefix, cursor line, suffix),
  keeping the chunks of the document's previous prompt in place, and sends it to the
  backend's ``/completion``. So any model with FIM tokens configured (CEREBRUM_MODELS
  ``format: fim``) serves /infill, the context is never silently dropped by llama-server's
  batch-size arithmetic, and consecutive keystrokes share the longest prompt start.
- Each file in each editor is a document, recognised from its text (``core.documents``): it
  stays on one backend and one slot (the one whose KV cache holds its prompt), a newer
  completion in it supersedes an older one still running (never one of another document),
  and a warm-up (``n_predict: 0``) prepares exactly the prompt start the next completion
  will have, on the slot that will serve it.
- The ``model`` field is read leniently, as the plugins send ``""`` or a name of their own:
  an unknown or empty name on /infill means the first FIM model; a configured model without
  FIM tokens is refused (400 ``not_a_fim_model``); with no FIM model at all, /infill
  answers llama-server's 501.

/completion passes the client's prompt on as it is (the client applied its own template).
Several completions (``n_cmpl``, llama.vscode asks for 3, times the prompts of a list of
strings) are limited to CEREBRUM_BACKEND_SLOTS, as llama-server refuses more than its slots.
Of the other fields only those ``schemas.OPTIONS`` passes on reach the backend. A backend
that refuses the client's request (a prompt longer than the context) answers the client
with its own status and message.
Answers are llama-server's (see ``api.llama_answers``); the client's ``id_slot`` is ignored:
the orchestrator chooses backend and slot by document (llama.vim and llama.vscode send 0
from every editor).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api import llama_answers, sse
from cerebrum.api.errors import Failure
from cerebrum.api.incoming import parse
from cerebrum.api.journey import Journey, Options, Outcome
from cerebrum.api.responses import JSONResponse
from cerebrum.api.schemas import InfillRequest, LlamaCompletionRequest, Native
from cerebrum.api.services import Services, services
from cerebrum.core.documents import Origin
from cerebrum.core.errors import BackendRejectedError, NotFimModelError
from cerebrum.core.generation import Piece
from cerebrum.core.registry import ModelSpec
from cerebrum.retrieval import PromptRequest, Snippet

DEFAULT_PREDICT = 128  # n_predict -1 ("until the context is full") is budgeted as this many
NOT_SUPPORTED = (
    "Infill is not supported by this model: prefix token is missing. suffix token is "
    "missing. middle token is missing. "
)


async def infill(request: Request) -> Response:
    """Fill in at the cursor (llama.vim, llama.vscode)."""
    svc = services(request)
    body = await parse(request, InfillRequest)
    spec = _fim_model(svc, body.model)
    if spec is None:
        refusal = llama_answers.error_event(501, "not_supported_error", NOT_SUPPORTED)
        return JSONResponse(refusal, 501)
    warmup = body.n_predict == 0
    prompt = PromptRequest(
        prompt=body.input_prefix + body.prompt,
        suffix=body.input_suffix,
        context=tuple(Snippet(item.text, item.filename or None) for item in body.input_extra),
        max_tokens=_budgeted(body),
        trim_prompt=True,
    )
    journey = await Journey.through_pipeline(
        request,
        spec,
        prompt,
        origin=Origin(request.state.client, "infill", exclusive=not warmup),
        options=_options(svc, body),
    )
    return await _answer(journey, body)


async def completion(request: Request) -> Response:
    """Complete the client's prompt as it is (Continue's llama.cpp provider)."""
    svc = services(request)
    body = await parse(request, LlamaCompletionRequest)
    journey = Journey.as_sent(
        request,
        svc.registry.resolve(body.model or None),
        body.prompt,
        max_tokens=_budgeted(body),
        origin=Origin(request.state.client, "completion"),
        options=_options(svc, body),
    )
    return await _answer(journey, body)


def _fim_model(svc: Services, name: str | None) -> ModelSpec | None:
    """The model /infill uses: the one named if it is configured (a model without FIM
    tokens is the client's mistake: 400 naming it), else the first FIM model, the default
    one first; None when no model has FIM tokens (501, as llama-server answers)."""
    registry = svc.registry
    if name and name in registry.aliases:
        spec = registry.resolve(name)
        if spec.profile.format != "fim":
            fim = [other.alias for other in registry if other.profile.format == "fim"]
            raise NotFimModelError(name, fim)
        return spec
    ordered = [registry.resolve(None), *registry]
    return next((spec for spec in ordered if spec.profile.format == "fim"), None)


def _options(svc: Services, body: Native) -> Options:
    """The body's sampling (the options it passes on); ``n_cmpl`` lowered so that the
    completions of all its prompts fit CEREBRUM_BACKEND_SLOTS (llama-server refuses more
    than its slots)."""
    return Options(
        temperature=body.temperature,
        stop=body.stop,
        sampling=body.passed_on(),
        completions=body.n_cmpl_within(svc.settings.backend_slots),
    )


def _budgeted(body: Native) -> int:
    return body.n_predict if body.n_predict >= 0 else DEFAULT_PREDICT


async def _answer(journey: Journey, body: Native) -> Response:
    if body.stream:
        return journey.stream(LlamaEvents(body.response_fields), ping=sse.BARE_PING)
    gathered = llama_answers.Completions()

    def render(outcome: Outcome) -> Response:
        return JSONResponse(llama_answers.answer(gathered.results(), body.response_fields))

    try:
        return await journey.answer(render, each=gathered.add_piece)
    except BackendRejectedError as exc:  # the backend refused the client's request: say so
        refusal = llama_answers.error_event(exc.status, "invalid_request_error", exc.message)
        return JSONResponse(refusal, status_code=exc.status)


@dataclass(frozen=True, slots=True)
class LlamaEvents:
    """llama-server's own stream: its events as they come (the last of each completion
    filtered by ``response_fields``), an error event on failure; no ``[DONE]``."""

    fields: list[str]

    def piece(self, piece: Piece, outcome: Outcome) -> Iterator[bytes]:
        event = piece.event
        if event is not None and event.get("stop"):
            yield sse.event(llama_answers.select_fields(event, self.fields))
        elif event is not None:
            yield sse.event(event)

    def end(self, outcome: Outcome) -> Iterator[bytes]:
        return iter(())

    def failure(self, failure: Failure, outcome: Outcome) -> Iterator[bytes]:
        yield sse.event(llama_answers.error_event(failure.status, failure.kind, failure.message))
