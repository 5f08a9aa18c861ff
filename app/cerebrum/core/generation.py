"""What the orchestrator asks a backend for, and the pieces of text that come back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Generation:
    """One generation request, in backend terms.

    Exactly one of ``prompt`` (sent to llama-server's own ``/completion``: a string, or
    the token/mixed arrays that route accepts) and ``messages`` (sent to
    ``/v1/chat/completions``, which applies the model's chat template) is set.
    ``completions`` is llama-server's ``n_cmpl``: that many completions of each prompt,
    streamed interleaved, each event carrying its ``index``; ``results`` counts them all.
    ``slot`` is llama-server's ``id_slot``: the slot whose KV cache holds the prompt's
    document (None: the backend picks one).
    """

    model: str
    max_tokens: int
    prompt: str | list[Any] | None = None
    messages: tuple[tuple[str, str], ...] | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    sampling: Mapping[str, Any] = field(default_factory=dict)
    completions: int = 1
    slot: int | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a generation has either a prompt or messages")
        if self.completions < 1 or (self.completions > 1 and self.messages is not None):
            raise ValueError("several completions need a prompt (llama-server's n_cmpl)")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    @property
    def results(self) -> int:
        """The completions the backend answers in all: ``completions`` for each prompt."""
        return self.completions * (1 if self.prompt is None else prompt_count(self.prompt))


def prompt_count(prompt: str | list[Any]) -> int:
    """The prompts llama-server reads in a ``/completion`` prompt: a list of strings alone is
    that many prompts (``n_cmpl`` results each); a string, or token ids (with strings mixed
    in), is one."""
    if isinstance(prompt, list) and not any(isinstance(part, int) for part in prompt):
        return len(prompt)
    return 1


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of generated text; the last piece of a stream has ``done`` set.

    ``prompt_tokens`` is the whole prompt as the backend counted it, ``cached_tokens`` the
    part of it the backend took from its KV cache instead of processing it (llama-server's
    ``timings.cache_n``). ``event`` is the backend's own event for a ``/completion``
    generation (what the llama.cpp-compatible routes pass on), ``index`` which of several
    completions it belongs to.
    """

    text: str
    tokens: int
    done: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    timings: Mapping[str, Any] | None = None
    cached_tokens: int | None = None
    index: int = 0
    event: Mapping[str, Any] | None = field(default=None, repr=False)
