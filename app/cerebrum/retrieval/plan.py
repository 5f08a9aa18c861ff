"""What the pipeline did: the assembled prompt and an explanation of every context chunk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cerebrum.retrieval.request import Message

DropReason = str  # "duplicate" | "near-duplicate" | "in-prompt" | "budget"


@dataclass(frozen=True, slots=True)
class ChunkReport:
    """One context chunk and what became of it: its score (with the parts) or why it was dropped."""

    id: str
    path: str | None
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    score: float = 0.0
    score_parts: tuple[tuple[str, float], ...] = ()  # e.g. (("bm25", 0.8), ("recency", 0.3))
    reason: DropReason | None = None  # None for a chunk that was used
    duplicate_of: str | None = None  # the kept chunk's id, for "duplicate"/"near-duplicate"

    def summary(self) -> dict[str, object]:
        """JSON-able view: id, path, lines, score with its parts, and the drop reason."""
        out: dict[str, object] = {
            "id": self.id,
            "path": self.path,
            "lines": [self.start_line, self.end_line],
            "score": round(self.score, 4),
            "score_parts": {name: round(value, 4) for name, value in self.score_parts},
            "reason": self.reason,
        }
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of
        return out


@dataclass(frozen=True, slots=True)
class PromptPlan:
    """The prompt to send to llama-server and how it was built."""

    prompt: str | None  # for "completion"/"fim": the text to send as llama-server's prompt
    messages: tuple[Message, ...] | None  # for "chat": the turns to send to /v1/chat/completions
    language: str | None
    intent: str  # "complete" | "generate" | "explain" | "fix"
    symbols: tuple[str, ...]
    prompt_tokens: int  # safe upper-bound estimate of the prompt's tokens
    budget_tokens: int  # context_size - max_tokens - margin_tokens
    chunks_used: tuple[ChunkReport, ...]
    chunks_dropped: tuple[ChunkReport, ...]
    history_dropped: int = 0  # oldest chat turns left out to fit the budget
    suffix_truncated: bool = False  # "fim": the end of the suffix was cut to fit the budget
    context_skipped: bool = False  # the time budget ran out: the context was left out
    own_tokens: int = 0  # completion/FIM: the request's own text, without the context
    # When chunks were left out for the budget: the parts whose cost was estimated
    # (text_key -> text); exact counts for them may let more context in.
    uncounted: Mapping[str, str] = field(default_factory=dict, repr=False)

    def summary(self, max_dropped: int = 50) -> dict[str, object]:
        """JSON-able account of the plan, for the response and the logs.

        Every used chunk is listed; dropped ones up to `max_dropped` (best scores first), as a
        request with thousands of context chunks would otherwise make a very long answer.
        """
        dropped = sorted(self.chunks_dropped, key=lambda c: -c.score)[:max_dropped]
        reasons: dict[str, int] = {}
        for chunk in self.chunks_dropped:
            key = chunk.reason or "unknown"
            reasons[key] = reasons.get(key, 0) + 1
        return {
            "language": self.language,
            "intent": self.intent,
            "symbols": list(self.symbols),
            "prompt_tokens": self.prompt_tokens,
            "budget_tokens": self.budget_tokens,
            "history_dropped": self.history_dropped,
            "suffix_truncated": self.suffix_truncated,
            "context_skipped": self.context_skipped,
            "chunks_used": len(self.chunks_used),
            "chunks_dropped": len(self.chunks_dropped),
            "dropped_by_reason": reasons,
            "used": [c.summary() for c in self.chunks_used],
            "dropped": [c.summary() for c in dropped],
        }


class PromptTooLarge(ValueError):  # noqa: N818 (the public name is fixed)
    """The prompt (plus pinned history) alone does not fit the model's budget."""

    def __init__(
        self, prompt_tokens: int, budget_tokens: int, max_tokens: int, context_size: int
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.budget_tokens = budget_tokens
        self.max_tokens = max_tokens
        self.context_size = context_size
        super().__init__(
            f"`prompt` needs about {prompt_tokens} tokens but only {max(budget_tokens, 0)} are "
            f"available: the model's context is {context_size} tokens and `max_tokens` reserves "
            f"{max_tokens}; shorten the prompt or lower max_tokens"
        )
