"""What the orchestrator asks a backend for, and the pieces of text that come back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Generation:
    """One generation request, in backend terms.

    Exactly one of ``prompt`` (sent to llama-server's native ``/completion``) and
    ``messages`` (sent to ``/v1/chat/completions``, which applies the model's chat template)
    is set.
    """

    model: str
    max_tokens: int
    prompt: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    sampling: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a generation has either a prompt or messages")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of generated text; the last chunk of a stream has ``done`` set."""

    text: str
    tokens: int
    done: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    timings: Mapping[str, Any] | None = None
