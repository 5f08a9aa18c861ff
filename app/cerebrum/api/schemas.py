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

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, Self

import orjson
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
    with_config,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12

from cerebrum.core.generation import prompt_count
from cerebrum.core.usage import RecentError, Row

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


class UsageHealth(Open):
    status: Literal["ok", "off", "failing"] = Field(
        description="ok: usage is written; off: no CEREBRUM_USAGE_DB; failing: see detail "
        "(requests are served all the same, their usage kept in memory until it can be written)."
    )
    detail: str | None = Field(default=None, description="Why the database cannot be written.")
    dropped: int = Field(default=0, description="Usage records lost since start (queue full).")


class UsageQuery(BaseModel):
    """GET /v1/usage's query parameters (text, so numbers are read from it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(default=7, ge=1, le=36_500, description="Days back from today (UTC).")
    key: str | None = Field(default=None, min_length=1, max_length=64, description="One key name.")
    model: str | None = Field(default=None, min_length=1, max_length=64, description="One alias.")


class UsageResponse(Open):
    since: str = Field(description="The first day included (UTC).")
    usage: UsageHealth
    rows: list[Row]
    recent_errors: list[RecentError] = Field(
        description="The last errors since start (in memory, oldest first, at most 50)."
    )


class HealthResponse(Open):
    status: Literal["ok"]
    version: str
    uptime: float
    usage: UsageHealth | None = None


class BackendHealthInfo(Open):
    backend: str = Field(
        description="The backend's name (backend 1, 2, ... in configuration order)."
    )
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
    loaded: dict[str, str | None] = Field(description="Backend name -> status it reports.")


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
    tokenize_calls: int = Field(description="/tokenize requests made to count them.")
    tokenize_failed: int = Field(description="Of those, answered with an error or not at all.")
    tokenize_skipped: int = Field(
        description="Texts left uncounted: beyond the per-request bound or the deadline."
    )


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
    circuits: dict[str, Circuit] = Field(description="Backend name -> its circuit breaker.")
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
# /completion. The fields the orchestrator decides itself are ``Native``'s (checked,
# bounded, used by the orchestrator). Every other field llama-server b11312 reads is a row
# of ``OPTIONS``, one table from which the request models, what goes to the backend
# (``Native.passed_on``), the OpenAPI document and docs/api.md's table (``options_table``)
# are derived: passed on within its bounds, or refused with 422 naming it. A field in no
# row, or in a row marked dropped, is accepted and dropped, as llama-server ignores a
# field it does not read.

MAX_NATIVE_STOP = 32
MAX_COMPLETIONS = 8  # n_cmpl, and the prompts of a list prompt (CEREBRUM_BACKEND_SLOTS caps)
NativeCount = Annotated[int, Field(ge=-1, le=MAX_TOKENS), BeforeValidator(_whole_number)]
LLAMA_ROUTES = ("/infill", "/completion")
MAX_N_PROBS = 20  # as OpenAI's top_logprobs; each generated token carries that many
MAX_GRAMMAR_CHARS = 16_384  # grammar, and json_schema as JSON
MAX_SAMPLERS = 16
MAX_LORA = 8
MAX_LORA_ID = 63
MAX_LORA_SCALE = 2.0
MAX_LOGIT_BIAS = 64
MAX_PENALTY_WINDOW = 4096  # repeat_last_n, dry_penalty_last_n: tokens scanned per token
# llama_token is a 32-bit integer; 7.0 is 7, as for every integer field
TokenId = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_whole_number)]


@dataclass(frozen=True, slots=True)
class Kind:
    """A field's type and bounds: what pydantic validates and documents, and the same in
    words for docs/api.md."""

    annotation: Any
    text: str


def _integer(low: int, high: int) -> Kind:
    bounded = Annotated[int, Field(ge=low, le=high), BeforeValidator(_whole_number)]
    return Kind(bounded, f"integer, {low:,} to {high:,}")


def _number(low: float, high: float) -> Kind:
    return Kind(Annotated[float, Field(ge=low, le=high)], f"number, {low:g} to {high:g}")


def _refuse(value: Any) -> None:
    if value is not None:  # null means absent, as llama-server reads it
        raise PydanticCustomError(
            "refused_field", "llama-server reads this field, the orchestrator does not offer it"
        )


def _json_within(limit: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        if len(orjson.dumps(value)) > limit:
            raise PydanticCustomError("too_long", f"at most {limit:,} bytes as JSON")
        return value

    return check


_BOOLEAN = Kind(bool, "boolean")
_UNIT = _number(0.0, 1.0)
_PENALTY = _number(-2.0, 2.0)
_WINDOW = _integer(0, MAX_PENALTY_WINDOW)
_REFUSED = Kind(Annotated[Any, BeforeValidator(_refuse), WithJsonSchema({"type": "null"})], "-")
_ANY = Kind(Any, "-")


def _sampler_names() -> tuple[str, ...]:
    """llama-server's sampler names (common_sampler_types_from_names): each name, the names
    with an underscore also with a dash or without it, and its three other aliases."""
    names = ("dry", "top_k", "top_p", "top_n_sigma", "typ_p", "min_p", "temperature", "xtc",
             "infill", "penalties", "adaptive_p")  # fmt: skip
    spelled = [
        spelling
        for name in names
        for spelling in (name, name.replace("_", "-"), name.replace("_", ""))
    ]
    return tuple(dict.fromkeys([*spelled, "nucleus", "temp", "typ"]))


SAMPLER_NAMES = _sampler_names()
SAMPLER_LETTERS = "dkypsmtxiea"  # common_sampler_type_to_chr, for a string of samplers
_SAMPLERS = Kind(
    Annotated[
        list[Literal[SAMPLER_NAMES]],  # type: ignore[valid-type]
        Field(max_length=MAX_SAMPLERS),
    ]
    | Annotated[str, Field(max_length=MAX_SAMPLERS, pattern=f"^[{SAMPLER_LETTERS}]*$")],
    f"at most {MAX_SAMPLERS} of llama-server's sampler names (e.g. top_k, top_p, infill), "
    f"or a string of at most {MAX_SAMPLERS} of its sampler letters ({SAMPLER_LETTERS})",
)


class LoraAdapter(Strict):
    """One adapter llama-server loaded (``--lora``), by its position, and its scale."""

    id: Annotated[int, Field(ge=0, le=MAX_LORA_ID), BeforeValidator(_whole_number)]
    scale: float = Field(ge=-MAX_LORA_SCALE, le=MAX_LORA_SCALE)


_LORA = Kind(
    Annotated[list[LoraAdapter], Field(max_length=MAX_LORA)],
    f"at most {MAX_LORA} of {{id: 0 to {MAX_LORA_ID}, scale: {-MAX_LORA_SCALE:g} to "
    f"{MAX_LORA_SCALE:g}}}",
)
_Bias = Annotated[float, Field(ge=-100.0, le=100.0)] | Literal[False]
_Piece = Annotated[str, Field(max_length=64)]
_LOGIT_BIAS = Kind(
    Annotated[
        list[tuple[Annotated[int, Field(ge=0, le=2**31 - 1)] | _Piece, _Bias]],
        Field(max_length=MAX_LOGIT_BIAS),
    ]
    | Annotated[dict[_Piece, _Bias], Field(max_length=MAX_LOGIT_BIAS)],
    f"at most {MAX_LOGIT_BIAS} [token, bias] pairs, or an object of as many token: bias; "
    "a token is an id or a string of at most 64 characters, a bias -100 to 100 or false",
)


@dataclass(frozen=True, slots=True)
class Option:
    """One field of llama-server's /completion and /infill bodies that the orchestrator does
    not decide itself, and what it does with it on ``routes``."""

    name: str  # or several names, each after ", ", that share the row
    action: Literal["passed on", "refused", "dropped"]
    kind: Kind
    note: str = ""
    routes: tuple[str, ...] = LLAMA_ROUTES
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.name.split(", "))


def _passed(name: str, kind: Kind, note: str = "", **more: Any) -> Option:
    return Option(name, "passed on", kind, note, **more)


def _refused(name: str, note: str, **more: Any) -> Option:
    return Option(name, "refused", _REFUSED, note, **more)


def _dropped(name: str, note: str) -> Option:
    return Option(name, "dropped", _ANY, note)


ANY_OTHER = "any other field"
_EDITORS = "sent by llama.vim, llama.vscode"
_CONTINUE = "sent by Continue"
_CHAT_FIELDS = (
    "grammar_type", "grammar_lazy", "grammar_triggers", "preserved_tokens", "chat_format",
    "reasoning_format", "generation_prompt", "parse_tool_calls", "chat_parser",
    "continue_final_message", "echo", "reasoning_control", "reasoning_budget_tokens",
    "reasoning_budget_start_tag", "reasoning_budget_end_tags", "reasoning_budget_end_tag",
    "reasoning_budget_message", "message_delimiters",
)  # fmt: skip
_CHAT = "an internal of llama-server's chat and tool-call routes"
_CONNECTION = "concerns the orchestrator's own connection to the backend"
OPTIONS: tuple[Option, ...] = (
    _passed("cache_prompt", _BOOLEAN, f"{_EDITORS}; the orchestrator sends true when absent"),
    _passed("n_indent", _integer(0, 1024), _EDITORS),
    _passed("t_max_predict_ms", _integer(0, 600_000), _EDITORS),
    _passed("n_keep", _integer(-1, 65_536), routes=("/completion",)),
    _passed("n_discard", _integer(0, 65_536), routes=("/completion",)),
    _refused("n_keep", "the orchestrator fits the prompt to the context", routes=("/infill",)),
    _refused("n_discard", "the orchestrator fits the prompt to the context", routes=("/infill",)),
    _passed("n_cache_reuse", _integer(0, 4096)),
    _passed("top_k", _integer(0, 1000), f"0 disables it; {_EDITORS} and Continue"),
    _passed("top_p", _UNIT, f"{_EDITORS} and Continue"),
    _passed("min_p", _UNIT, _CONTINUE),
    _passed("typical_p", _UNIT),
    _passed("top_n_sigma", _number(-1.0, 10.0), "below 0 disables it"),
    _passed("xtc_probability", _UNIT),
    _passed("xtc_threshold", _UNIT),
    _passed("dynatemp_range", _number(0.0, 10.0)),
    _passed("dynatemp_exponent", _number(0.0, 10.0)),
    _passed("repeat_last_n", _WINDOW),
    _passed(
        "repeat_penalty",
        Kind(Annotated[float, Field(gt=0.0, le=2.0)], "number, above 0 to 2"),
        "1 disables it (llama-server refuses 0)",
    ),
    _passed("frequency_penalty", _PENALTY, _CONTINUE),
    _passed("presence_penalty", _PENALTY, _CONTINUE),
    _passed("dry_multiplier", _number(0.0, 10.0)),
    _passed("dry_base", _number(1.0, 10.0)),
    _passed("dry_allowed_length", _integer(0, 64)),
    _passed("dry_penalty_last_n", _WINDOW),
    _passed(
        "dry_sequence_breakers",
        Kind(
            Annotated[
                list[Annotated[str, Field(min_length=1, max_length=40)]],
                Field(min_length=1, max_length=16),
            ],
            "1 to 16 strings of 1 to 40 characters",
        ),
    ),
    _passed("mirostat", _integer(0, 2), _CONTINUE),
    _passed("mirostat_tau", _number(0.0, 20.0)),
    _passed("mirostat_eta", _UNIT),
    _passed("adaptive_target", _number(-1.0, 1.0), "below 0 disables it"),
    _passed("adaptive_decay", _number(0.0, 0.99)),
    _passed("seed", _integer(-1, 2**32 - 1), "-1: random"),
    _passed("n_probs", _integer(0, MAX_N_PROBS), aliases=("logprobs",)),
    _passed("min_keep", _integer(0, 1000)),
    _passed("post_sampling_probs", _BOOLEAN),
    _passed("return_tokens", _BOOLEAN),
    _passed("return_progress", _BOOLEAN),
    _passed("timings_per_token", _BOOLEAN),
    _passed("ignore_eos", _BOOLEAN, "generation stays within n_predict"),
    _passed("samplers", _SAMPLERS, _EDITORS),
    _passed("lora", _LORA, "sent by llama.vscode when its lora_completion setting is set"),
    _passed("logit_bias", _LOGIT_BIAS),
    _passed(
        "grammar",
        Kind(
            Annotated[str, Field(max_length=MAX_GRAMMAR_CHARS)],
            f"string of at most {MAX_GRAMMAR_CHARS:,} characters",
        ),
    ),
    _passed(
        "json_schema",
        Kind(
            Annotated[dict[str, Any], AfterValidator(_json_within(MAX_GRAMMAR_CHARS))],
            f"object of at most {MAX_GRAMMAR_CHARS:,} bytes as JSON",
        ),
        "a grammar is made of it",
    ),
    _refused("verbose", _CONNECTION),
    _refused("stream_options", _CONNECTION),
    _refused("sse_ping_interval", _CONNECTION + " (the orchestrator pings the client itself)"),
    _refused("backend_sampling", "sampling stays llama.cpp's"),
    _refused(", ".join(_CHAT_FIELDS), _CHAT),
    _dropped("t_max_prompt_ms", f"llama-server b11312 ignores it too; {_EDITORS}"),
    _dropped("speculative.*", "llama-server b11312 ignores them too"),
    _dropped("image_data, multimodal_data", "llama-server b11312 ignores them too"),
    _dropped(ANY_OTHER, "as llama-server ignores a field it does not read"),
)


def options_table() -> str:
    """``OPTIONS`` as docs/api.md's Markdown table."""
    rows = ["| field | routes | what happens | type and bounds | note |", "|---|---|---|---|---|"]
    for option in OPTIONS:
        names = ", ".join(f"`{name}`" for name in (*option.names, *option.aliases))
        if option.name == ANY_OTHER:
            names = ANY_OTHER
        routes = ", ".join(f"`{route}`" for route in option.routes)
        action = "refused (422)" if option.action == "refused" else option.action
        rows.append(f"| {names} | {routes} | {action} | {option.kind.text} | {option.note} |")
    return "\n".join(rows) + "\n"


def _names(field: FieldInfo) -> tuple[str, ...]:
    """The names a field is read under (``n_cmpl`` and ``n``); none for a field without aliases."""
    choices = field.validation_alias
    if not isinstance(choices, AliasChoices):
        return ()
    return tuple(choice for choice in choices.choices if isinstance(choice, str))


@functools.cache
def _aliased(model: type[BaseModel]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each field of `model` read under several names, with those names: worked out once
    per model, as every request's validation asks."""
    named = ((name, _names(field)) for name, field in model.model_fields.items())
    return tuple((name, names) for name, names in named if len(names) >= 2)


def _document_aliases(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Each other name a field is read under (``n`` for ``n_cmpl``, ``max_tokens`` for
    ``n_predict``, as llama-server reads them) as a property of its own in the JSON schema,
    with the field's schema, and at most one of a field's names in a body (``Native``
    refuses two): the OpenAPI document says what the app checks."""
    properties = schema.get("properties", {})
    for name, names in _aliased(model):
        if name not in properties:
            continue
        for alias in names[1:]:
            properties[alias] = properties[name] | {"description": f"The same as {name}."}
        schema.setdefault("allOf", []).extend(
            {"not": {"required": list(pair)}} for pair in itertools.combinations(names, 2)
        )


class Native(BaseModel):
    """The fields of llama.cpp's routes that the orchestrator decides itself."""

    model_config = ConfigDict(
        strict=True, extra="allow", frozen=True, json_schema_extra=_document_aliases
    )

    @model_validator(mode="after")
    def _one_name_each(self) -> Self:
        """A field given under two of its names (``n_cmpl`` and ``n``) is refused, 422 naming
        the one left over (validation reads the first present and leaves the other among
        the extra fields): which of the two should count would be a guess."""
        extra = self.model_extra
        if not extra:
            return self
        for _, names in _aliased(type(self)):
            for name in names:
                if name in extra:
                    others = " or ".join(n for n in names if n != name)
                    message = f"{name} is another name of {others}: send one of them"
                    raise field_error(type(self), name, "one_name", message)
        return self

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
        description=(
            "Completions of each prompt (an array answer when > 1); all of them together "
            "at most CEREBRUM_BACKEND_SLOTS (n_cmpl is lowered to fit)."
        ),
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
        """What goes to the backend besides the fields the orchestrator decides: the options
        of this route's model that ``OPTIONS`` passes on, as the client gave them (under
        their first name); nothing else."""
        names = set(_PASSED & type(self).model_fields.keys())
        return self.model_dump(mode="json", include=names, exclude_none=True)

    def prompt_count(self) -> int:
        return 1

    def n_cmpl_within(self, slots: int) -> int:
        """``n_cmpl``, lowered so that the completions of all prompts fit ``slots``
        (llama-server refuses more than its slots); a list of more prompts than ``slots``
        is the client's mistake: 422 naming ``prompt``."""
        prompts = self.prompt_count()
        if prompts > slots:
            raise field_error(
                type(self),
                "prompt",
                "too_many_prompts",
                f"{prompts} prompts, more than the {slots} completions served at once "
                "(CEREBRUM_BACKEND_SLOTS)",
            )
        return min(self.n_cmpl, slots // prompts)


_PASSED = frozenset(name for o in OPTIONS if o.action == "passed on" for name in o.names)


def field_error(model: type[BaseModel], field: str, kind: str, message: str) -> ValidationError:
    """A ValidationError naming ``field`` (answered 422 naming it), for a check that needs
    more than the body, e.g. a setting."""
    error = InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=None)
    return ValidationError.from_exception_data(model.__name__, [error])


def _with_options(base: type[Native], route: str) -> type[Native]:
    """``base`` with a field for each row of ``OPTIONS`` that ``route`` passes on or refuses
    (null taken as absent, as llama-server reads it)."""
    fields: dict[str, Any] = {
        name: (
            option.kind.annotation | None,
            Field(
                default=None,
                validation_alias=AliasChoices(name, *option.aliases) if option.aliases else None,
                description=f"{option.action.capitalize()}: {option.note}".rstrip(": ")
                if option.note
                else option.action.capitalize(),
            ),
        )
        for option in OPTIONS
        if route in option.routes and option.action != "dropped"
        for name in option.names
    }
    name = "Infill" if route == "/infill" else "LlamaCompletion"
    return create_model(f"{name}Options", __base__=base, **fields)


if TYPE_CHECKING:
    _InfillOptions = Native
    _CompletionOptions = Native
else:
    _InfillOptions = _with_options(Native, "/infill")
    _CompletionOptions = _with_options(Native, "/completion")


class ExtraContext(BaseModel):
    """One ``input_extra`` chunk: a piece of another file (``time`` and others ignored)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    text: str = Field(max_length=MAX_PROMPT_CHARS)
    filename: str | None = Field(default=None, max_length=1024)


class InfillRequest(_InfillOptions):
    """Body of POST /infill (llama.vim, llama.vscode): fill in at the cursor."""

    input_prefix: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    input_suffix: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    input_extra: list[ExtraContext] = Field(default_factory=list, max_length=MAX_CONTEXT_ITEMS)
    prompt: str = Field(
        default="", max_length=MAX_PROMPT_CHARS, description="The cursor's line up to the cursor."
    )


class LlamaCompletionRequest(_CompletionOptions):
    """Body of POST /completion (Continue's llama.cpp provider, scripts): a prompt as the
    client wrote it (a string; token ids and strings mixed; or several strings, each a
    prompt of its own), passed on as it is."""

    prompt: (
        Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
        | Annotated[
            list[TokenId | Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]],
            Field(min_length=1, max_length=MAX_PROMPT_CHARS),
        ]
    )

    @field_validator("prompt")
    @classmethod
    def _few_prompts(cls, prompt: str | list[int | str]) -> str | list[int | str]:
        if prompt_count(prompt) > MAX_COMPLETIONS:
            raise PydanticCustomError(
                "too_many_prompts", f"at most {MAX_COMPLETIONS} prompts in a list of strings"
            )
        return prompt

    def prompt_count(self) -> int:
        return prompt_count(self.prompt)


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
