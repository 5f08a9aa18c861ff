"""What the pipeline is asked to do: the client's request and the model it is for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

PromptFormat = Literal["completion", "chat", "fim"]
FimOrder = Literal["psm", "spm"]


@dataclass(frozen=True, slots=True)
class Snippet:
    """A context item from the client: a file or an editor buffer (later ones are more recent)."""

    text: str
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """An OpenAI-style chat turn."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class FimTokens:
    """A model's fill-in-the-middle tokens (as its tokenizer spells them), e.g. Qwen2.5-Coder's.

    `file_separator` (e.g. "<|file_sep|>"), when the model has one, introduces each context
    file before the prefix token, as llama-server's /infill does; without it the context is
    written as commented sections inside the prefix. No token is empty. Settings validate
    ``CEREBRUM_MODELS[].fim`` straight into this type.

    `order` is the order the model was trained to read: "psm" (prefix, suffix, middle: the
    default, and llama-server's /infill) or "spm" (suffix first, then the prefix, as
    llama-server's ``--spm-infill``; for models trained so, e.g. Code Llama, StarCoder,
    Codestral). Suffix first, the text a keystroke changes is the prompt's end, so an editor's
    next keystroke re-processes only the few tokens typed instead of the whole suffix.

    `max_suffix_tokens` keeps at most that many tokens of the suffix (its first whole lines;
    None: all that fits). Prefix first, every keystroke re-reads the suffix, so this bounds
    what a keystroke costs the backend, at the price of the code further after the cursor.
    """

    prefix: str  # "<|fim_prefix|>"
    suffix: str  # "<|fim_suffix|>"
    middle: str  # "<|fim_middle|>"
    file_separator: str | None = None  # "<|file_sep|>"
    repo_name: str | None = None  # "<|repo_name|>", opens the context as llama-server does
    order: FimOrder = "psm"
    max_suffix_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("prefix", "suffix", "middle", "file_separator", "repo_name"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"FIM token {name!r} must be a non-empty string")
        if self.order not in get_args(FimOrder):
            orders = " or ".join(get_args(FimOrder))
            raise ValueError(f"FIM order must be {orders}, got {self.order!r}")
        cap = self.max_suffix_tokens
        if cap is not None and (type(cap) is not int or cap < 0):
            raise ValueError(f"FIM max_suffix_tokens must be a whole number >= 0, got {cap!r}")

    def around(self, prefix: str, suffix: str) -> str:
        """The prefix and suffix with the FIM tokens, in the model's order, ending where the
        model writes the middle."""
        if self.order == "spm":
            return f"{self.suffix}{suffix}{self.prefix}{prefix}{self.middle}"
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What the prompt pipeline needs to know about a model: its context size, how prompts
    are written for it, and its FIM tokens. The one description of a model's prompt side:
    settings build it, the registry holds it, build_prompt reads it."""

    context_size: int  # the backend's per-slot context (n_ctx) in tokens
    format: PromptFormat = "completion"
    fim: FimTokens | None = None  # required when format == "fim"
    margin_tokens: int = 32  # reserve for BOS/EOS/template overhead

    def __post_init__(self) -> None:
        if self.context_size <= 0:
            raise ValueError(f"context_size must be positive, got {self.context_size}")
        if self.margin_tokens < 0:
            raise ValueError(f"margin_tokens must not be negative, got {self.margin_tokens}")
        if self.format not in ("completion", "chat", "fim"):
            raise ValueError(f"format must be completion, chat or fim, got {self.format!r}")
        if self.format == "fim" and self.fim is None:
            raise ValueError("format 'fim' needs the model's FIM tokens ('fim')")


@dataclass(frozen=True, slots=True)
class PromptRequest:
    """One completion request as the pipeline sees it.

    For editors, which send a request per keystroke, three fields keep the backend's prompt
    cache useful (llama-server reuses the longest common start of consecutive prompts):
    ``layout`` lists the chunk ids the session's previous prompt held, in their order
    (chunks that stay keep their place and are preferred when the budget is short, new
    ones go after them); ``reserve_tokens`` keeps room free for what the session's next
    request will add (a warm-up prepares the context for the completion after it);
    ``trim_prompt`` cuts a prompt too long for the budget at a line near its start instead
    of refusing it, as llama.cpp's /infill keeps the text nearest the cursor.
    ``token_counts`` are exact counts by ``text_key`` (the backend's tokenizer), used for
    the parts they cover instead of the estimate.
    """

    prompt: str
    language: str | None = None  # explicit, wins over detection
    context: Sequence[Snippet] = ()
    suffix: str | None = None  # text after the cursor (used by "fim")
    history: Sequence[Message] = ()  # earlier chat turns; `prompt` is the last user turn
    max_tokens: int = 256
    layout: Sequence[str] = ()
    reserve_tokens: int = 0
    trim_prompt: bool = False
    token_counts: Mapping[str, int] = field(default_factory=dict)
