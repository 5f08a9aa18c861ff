"""What the pipeline is asked to do: the client's request and the model it is for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

PromptFormat = Literal["completion", "chat", "fim"]


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
    """

    prefix: str  # "<|fim_prefix|>"
    suffix: str  # "<|fim_suffix|>"
    middle: str  # "<|fim_middle|>"
    file_separator: str | None = None  # "<|file_sep|>"

    def __post_init__(self) -> None:
        for name in ("prefix", "suffix", "middle", "file_separator"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"FIM token {name!r} must be a non-empty string")


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
            raise ValueError("format 'fim' needs the model's FIM tokens (fim=FimTokens(...))")


@dataclass(frozen=True, slots=True)
class PromptRequest:
    """One completion request as the pipeline sees it."""

    prompt: str
    language: str | None = None  # explicit, wins over detection
    context: Sequence[Snippet] = ()
    suffix: str | None = None  # text after the cursor (used by "fim")
    history: Sequence[Message] = ()  # earlier chat turns; `prompt` is the last user turn
    max_tokens: int = 256
