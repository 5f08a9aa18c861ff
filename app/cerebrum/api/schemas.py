"""Request and response bodies: strict (no coercion), unknown fields refused, bounded.

The same models produce the OpenAPI document (routes/schema.py), so what is validated and
what is documented cannot drift apart. Integer fields take any JSON number without a
fractional part (``256`` or ``256.0``, as JSON Schema's ``integer`` does), never a string
or a boolean.

Answers are models, built once per request. The shapes built for every token (stream
events, and the OpenAI shapes and errors they share with whole answers) are TypedDicts
instead: the code writes them as dict literals that mypy checks against the one
definition here, at the cost of the dict (a model costs a few µs more per event:
docs/benchmarks.md); pydantic documents and validates them just like the models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    with_config,
)
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12

MAX_TOKENS = 4096
MAX_PROMPT_CHARS = 200_000
MAX_CONTEXT_ITEMS = 256
MAX_MESSAGES = 256
MAX_STOP = 8


def _whole_number(value: Any) -> Any:
    """``256.0`` → ``256``: JSON Schema's ``integer`` counts a number without a fraction."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# The bounds come before the validator, so the document shows them as minimum/maximum.
TokenCount = Annotated[int, Field(ge=1, le=MAX_TOKENS), BeforeValidator(_whole_number)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1), BeforeValidator(_whole_number)]
# Not Literal[1]: a literal compares by Python equality and so would take ``true`` for 1.
One = Annotated[int, Field(ge=1, le=1), BeforeValidator(_whole_number)]
StopWord = Annotated[str, Field(min_length=1, max_length=64)]
ModelName = Annotated[str, Field(min_length=1, max_length=128)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Open(BaseModel):
    """Response bodies: documented fields; more may be added."""

    model_config = ConfigDict(extra="allow")


# A TypedDict answer: documented fields; more may be added (as ``Open``).
open_shape = with_config(ConfigDict(extra="allow"))


# ------------------------------------------------------------------------------ seed API


class ContextItem(Strict):
    """A file or editor buffer to draw context from (later items count as more recent)."""

    text: str = Field(max_length=MAX_PROMPT_CHARS)
    path: str | None = Field(default=None, min_length=1, max_length=1024)


class CompleteRequest(Strict):
    """Body of POST /v1/complete and /v1/complete/stream."""

    prompt: str = Field(
        min_length=1, max_length=MAX_PROMPT_CHARS, description="Code or instruction."
    )
    language: str | None = Field(
        default=None, min_length=1, max_length=32, description="e.g. python; detected when absent."
    )
    suffix: str | None = Field(
        default=None, max_length=MAX_PROMPT_CHARS, description="Text after the cursor (FIM)."
    )
    max_tokens: TokenCount = 256
    model: ModelName | None = Field(default=None, description="Model alias; default when absent.")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    stop: list[StopWord] = Field(default_factory=list, max_length=MAX_STOP)
    context: list[ContextItem] = Field(default_factory=list, max_length=MAX_CONTEXT_ITEMS)
    session: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description=(
            "The document, e.g. the file being edited, named instead of recognised from the "
            "text: a newer request of the same client and session supersedes an older one "
            "still running (409 superseded)."
        ),
    )


class CompleteResponse(Open):
    request_id: str
    model: str = Field(description="The alias that served the request.")
    backend_model: str = Field(description="The backend's model id.")
    completion: str
    finish_reason: str | None
    prompt_tokens: int | None = Field(description="Prompt tokens as counted by the backend.")
    cached_tokens: int | None = Field(
        default=None, description="Of those, the ones the backend took from its prompt cache."
    )
    completion_tokens: int
    total_tokens: int = Field(description="Tokens generated (as in the stream's events).")
    inference_time: float = Field(description="Seconds from request to last token.")
    time_to_first_token: float | None
    tokens_per_second: float | None
    pipeline: dict[str, Any] = Field(description="What the prompt pipeline did.")


@open_shape
class TokenEvent(TypedDict):
    """One SSE event per generated piece: ``data: {"token": "...", "total_tokens": n}``."""

    token: str
    total_tokens: int


@open_shape
class ErrorDetail(TypedDict):
    type: str
    message: str
    field: NotRequired[Annotated[str, Field(description="The request's field at fault.")]]
    code: NotRequired[
        Annotated[int, Field(description="The HTTP status, on llama.cpp's routes (as it does).")]
    ]


@open_shape
class ErrorResponse(TypedDict):
    error: ErrorDetail


@open_shape
class DoneEvent(TypedDict):
    """The last SSE event; carries ``error`` instead when the stream failed after it started."""

    done: Literal[True]
    total_tokens: int
    inference_time: float
    prompt_tokens: NotRequired[Annotated[int, Field(description="As counted by the backend.")]]
    cached_tokens: NotRequired[
        Annotated[
            int, Field(description="Of those, the ones the backend took from its prompt cache.")
        ]
    ]
    error: NotRequired[ErrorDetail]


class HealthResponse(Open):
    status: Literal["ok"]
    version: str
    uptime: float


class BackendHealthInfo(Open):
    url: str
    reachable: bool
    status: str = Field(description="ok, loading, auth (the key is refused), error or unreachable.")
    latency_ms: float | None
    circuit: str = Field(description="closed, open or half_open.")
    in_flight: int
    detail: str | None = None


class VpsHealthResponse(Open):
    status: str = Field(description="ok when at least one backend answers ok, else degraded.")
    backends: list[BackendHealthInfo]


class ModelInfo(Open):
    id: str = Field(description="The alias clients send as `model`.")
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "cerebrum"
    backend_model: str
    context_size: int
    format: str
    default: bool
    loaded: dict[str, str | None] = Field(description="Backend URL -> status it reports.")


class ModelList(Open):
    object: Literal["list"] = "list"
    data: list[ModelInfo]
    default: str


class Limits(Open):
    max_in_flight: int = Field(description="Generations served at once (CEREBRUM_MAX_IN_FLIGHT).")
    max_queue: int = Field(description="Requests waiting for a place (CEREBRUM_MAX_QUEUE).")


class RequestCounts(Open):
    total: int = Field(description="Requests received on the load-shed (inference) routes.")
    in_flight: int = Field(description="Of those, holding a place now.")
    queued: int = Field(description="Waiting for a place now.")
    shed: int = Field(description="Answered 503 at once: every place and the queue taken.")
    generations: int = Field(description="Generations started on a backend.")
    failed: int
    cancelled: int = Field(description="The client left before the answer was complete.")
    superseded: int = Field(
        description="Stopped for a newer request of their document (latest wins; no failure)."
    )
    errors: dict[str, int] = Field(description="Failures by error type.")
    limits: Limits


class ModelUsage(Open):
    requests: int
    failed: int
    tokens: int


class Percentiles(Open):
    """Nearest-rank percentiles over the most recent requests; null before the first one."""

    count: int = Field(description="Samples in the window.")
    p50: float | None
    p90: float | None
    p99: float | None


class Latency(Open):
    time_to_first_token: Percentiles = Field(description="Seconds.")
    total: Percentiles = Field(description="Seconds from request to last token.")


class TokenFigures(Open):
    total: int = Field(description="Tokens generated since start.")
    per_second: Percentiles


class PromptCache(Open):
    prompt_tokens: int = Field(description="Prompt tokens the backends reported.")
    cached_tokens: int = Field(description="Of those, the ones taken from their KV cache.")
    processed_tokens: int
    hit_ratio: float | None = Field(description="cached_tokens / prompt_tokens.")
    reprocessed: Percentiles = Field(
        description="Prompt tokens a backend processed (not from its KV cache), per generation."
    )
    token_counts: int = Field(description="Texts whose exact token count is remembered.")


class DocumentFigures(Open):
    """Documents (one file in one editor) and the backend slots that hold their prompts."""

    remembered: int = Field(description="Documents remembered.")
    slots: int = Field(description="Slots on all backends (CEREBRUM_BACKEND_SLOTS each).")
    slots_held: int = Field(description="Slots holding a document's prompt.")
    evictions: int = Field(description="Slots taken from the least recently typed document.")


class Circuit(Open):
    state: str = Field(description="closed, open or half_open.")
    failures: int
    opened_total: int
    in_flight: int


class ProcessInfo(Open):
    pid: int
    rss_bytes: int | None
    rss_mb: float | None


class StatsResponse(Open):
    uptime: float
    requests: RequestCounts
    models: dict[str, ModelUsage] = Field(description="Model alias -> its figures.")
    latency: Latency
    tokens: TokenFigures
    prompt_cache: PromptCache
    documents: DocumentFigures
    circuits: dict[str, Circuit] = Field(description="Backend URL -> its circuit breaker.")
    process: ProcessInfo


# --------------------------------------------------------------------------- OpenAI API


class StreamOptions(Strict):
    include_usage: bool = False


class _OpenAIBase(Strict):
    model: ModelName | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: StopWord | list[StopWord] | None = Field(default=None)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: One | None = Field(default=None, description="Only one choice is supported.")
    seed: Seed | None = None
    user: str | None = Field(default=None, max_length=256)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)

    def stop_words(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        words = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(words[:MAX_STOP])

    def sampling(self) -> dict[str, Any]:
        fields = ("top_p", "seed", "presence_penalty", "frequency_penalty")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


class OpenAICompletionRequest(_OpenAIBase):
    """Body of POST /v1/completions (OpenAI legacy completions)."""

    prompt: (
        Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
        | Annotated[
            list[Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]],
            Field(min_length=1, max_length=1),
        ]
    )
    suffix: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    max_tokens: TokenCount | None = None

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class ContentPart(Strict):
    type: Literal["text"]
    text: str = Field(max_length=MAX_PROMPT_CHARS)


class ChatMessage(Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | list[ContentPart]
    name: str | None = Field(default=None, max_length=64)

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class OpenAIChatRequest(_OpenAIBase):
    """Body of POST /v1/chat/completions."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None


@open_shape
class PromptTokensDetails(TypedDict):
    cached_tokens: Annotated[
        int, Field(description="Prompt tokens the backend took from its cache.")
    ]


@open_shape
class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails


@open_shape
class CompletionChoice(TypedDict):
    index: int
    text: str
    finish_reason: str | None
    logprobs: None


@open_shape
class OpenAICompletion(TypedDict):
    """A /v1/completions answer; also each ``data:`` event of its stream (the last of which
    may carry only usage)."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: NotRequired[Usage]


@open_shape
class ChatChoiceMessage(TypedDict):
    role: Literal["assistant"]
    content: str


@open_shape
class ChatChoice(TypedDict):
    index: int
    message: ChatChoiceMessage
    finish_reason: str | None
    logprobs: None


@open_shape
class OpenAIChatCompletion(TypedDict):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


# --------------------------------------------------------------------------- OpenAI streams


@open_shape
class ChatDelta(TypedDict, total=False):
    """The text of a piece (absent in the last event); the first event adds the role."""

    content: str
    role: Literal["assistant"]


@open_shape
class ChatChunkChoice(TypedDict):
    index: int
    delta: ChatDelta
    finish_reason: str | None
    logprobs: None


@open_shape
class OpenAIChatCompletionChunk(TypedDict):
    """One ``data:`` event of a streamed /v1/chat/completions (the last may carry only usage)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: NotRequired[Usage]


# ------------------------------------------------------------------ llama.cpp's API
# The bodies llama.vim, llama.vscode and Continue send to llama-server's /infill and
# /completion. As llama-server does, fields it does not know are accepted and ignored by
# the orchestrator, and passed on to the backend (sampling options: llama-server checks
# them); the fields below are checked, bounded, and used by the orchestrator itself.

MAX_NATIVE_STOP = 32
# Fields of llama-server's bodies the orchestrator decides itself, under any of their names.
OWNED = frozenset(
    {"model", "prompt", "stream", "n_predict", "max_tokens", "max_completion_tokens",
     "n_cmpl", "n", "id_slot", "response_fields", "input_prefix", "input_suffix",
     "input_extra", "stop", "temperature"}
)  # fmt: skip
MAX_COMPLETIONS = 8
NativeCount = Annotated[int, Field(ge=-1, le=MAX_TOKENS), BeforeValidator(_whole_number)]


class Native(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    model: str | None = Field(
        default=None,
        max_length=256,
        description="Model alias; empty or unknown on /infill: the first FIM model.",
    )
    n_predict: NativeCount = Field(
        default=-1,
        validation_alias=AliasChoices("n_predict", "max_tokens", "max_completion_tokens"),
        description="Tokens to generate; 0: only process the prompt (a warm-up).",
    )
    n_cmpl: Annotated[int, Field(ge=1, le=MAX_COMPLETIONS), BeforeValidator(_whole_number)] = Field(
        default=1,
        validation_alias=AliasChoices("n_cmpl", "n"),
        description="Completions of the one prompt (an array answer when > 1).",
    )
    stream: bool = False
    stop: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=MAX_NATIVE_STOP
    )
    temperature: float | None = Field(default=None, ge=0.0, le=10.0)
    response_fields: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list,
        max_length=64,
        description="Keep only these paths of the answer, each under its path: timings/prompt_n.",
    )
    id_slot: int | None = Field(
        default=None, description="Ignored: the orchestrator chooses backend and slot."
    )

    def passed_on(self) -> dict[str, Any]:
        """What goes to the backend unchanged: the fields the orchestrator does not own
        (their aliases included, e.g. ``n`` for ``n_cmpl``)."""
        extra = self.model_extra or {}
        return {key: value for key, value in extra.items() if key not in OWNED}


class ExtraContext(BaseModel):
    """One ``input_extra`` chunk: a piece of another file (``time`` and others ignored)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    text: str = Field(max_length=MAX_PROMPT_CHARS)
    filename: str | None = Field(default=None, max_length=1024)


class InfillRequest(Native):
    """Body of POST /infill (llama.vim, llama.vscode): fill in at the cursor."""

    input_prefix: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    input_suffix: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    input_extra: list[ExtraContext] = Field(default_factory=list, max_length=MAX_CONTEXT_ITEMS)
    prompt: str = Field(
        default="", max_length=MAX_PROMPT_CHARS, description="The cursor's line up to the cursor."
    )


class LlamaCompletionRequest(Native):
    """Body of POST /completion (Continue's llama.cpp provider, scripts): a prompt as the
    client wrote it (a string; or token ids and strings mixed), passed on as it is."""

    prompt: (
        Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
        | Annotated[
            list[int | Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]],
            Field(min_length=1, max_length=MAX_PROMPT_CHARS),
        ]
    )


class LlamaAnswer(Open):
    """llama-server's answer (an array of these for several completions); with
    ``response_fields`` only the paths asked for, each under its path."""

    content: str | None = None
    tokens_cached: int | None = Field(default=None, description="Tokens in the slot's cache.")
    timings: dict[str, Any] | None = Field(
        default=None, description="prompt_n, cache_n (prompt tokens reused), predicted_n, ..."
    )


class LlamaAnswers(RootModel[LlamaAnswer | list[LlamaAnswer]]):
    """One answer, or an array of them (one per completion) for ``n_cmpl`` > 1."""


class LlamaEvent(Open):
    """One event of a streamed answer: a piece of ``content`` (``stop`` false), the last
    (``stop`` true, with timings), or ``error``; no ``[DONE]``."""

    content: str | None = None
    stop: bool | None = None
    error: ErrorDetail | None = None
