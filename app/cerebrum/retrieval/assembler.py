"""Fill the model's budget with the best chunks and format the prompt for the model.

budget = context_size - max_tokens - margin_tokens. The request's own text (prompt, pinned
system turns, the chat history that fits, the FIM suffix that fits) is placed first; the
ranked chunks then go in best first while their estimated cost fits what is left; in the
prompt they are written in ascending rank, so the best chunk sits right before the prompt.
Every cost is `estimate_tokens` (an upper bound) and the assembled prompt is estimated again
as a whole, so the result never exceeds the budget.

Formats:
- "completion": the chunks as file sections headed by a comment in the request's language
  (`# path: utils.py`), then the prompt;
- "chat": one system message (the client's system turns, then the chunks in fenced blocks),
  the history, the prompt as the last user turn; oldest turns are dropped when short of room;
- "fim": prefix token, chunks (as sections, or as `<file_sep>path` blocks before the prefix
  token when the model has a file separator), prompt, suffix token, suffix, middle token;
  the suffix is cut from its far end when short of room.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cerebrum.retrieval.languages import comment_syntax
from cerebrum.retrieval.plan import PromptTooLarge
from cerebrum.retrieval.ranker import Ranked
from cerebrum.retrieval.request import FimTokens, Message, ModelProfile
from cerebrum.retrieval.tokens import TokenCounter, estimate_floor

TURN_OVERHEAD = 8  # tokens a chat template adds around one message (role, start/end marks)
MIN_SECTION_TOKENS = 8  # below this much room left, stop trying further chunks
MAX_MISSES = 32  # chunks in a row that did not fit, before the rest are left out
CHAT_CONTEXT_INTRO = "Relevant code from the user's workspace:\n\n"

_Section = Callable[[Ranked], str]  # a chunk as written into the prompt


@dataclass(frozen=True, slots=True)
class Assembly:
    """The formatted prompt and what went into it."""

    prompt: str | None
    messages: tuple[Message, ...] | None
    prompt_tokens: int
    budget_tokens: int
    used: tuple[Ranked, ...]  # best first
    over_budget: tuple[Ranked, ...]  # ranked chunks that did not fit
    history_dropped: int = 0
    suffix_truncated: bool = False


def budget_of(profile: ModelProfile, max_tokens: int) -> int:
    """Tokens available for the prompt: context - max_tokens - margin."""
    if max_tokens < 0:
        raise ValueError(f"max_tokens must not be negative, got {max_tokens}")
    return profile.context_size - max_tokens - profile.margin_tokens


def check_fits(
    prompt: str,
    profile: ModelProfile,
    max_tokens: int,
    history: Sequence[Message] = (),
    count: TokenCounter | None = None,
) -> int:
    """The tokens every prompt for this request costs, whatever its context (the prompt, the
    FIM tokens, or the user turn and the client's system turns); PromptTooLarge if they alone
    exceed the budget. Cheap (one estimate), so build_prompt runs it before any other stage."""
    count = count or TokenCounter()
    budget = budget_of(profile, max_tokens)
    if profile.format == "chat":
        system_text = _system_text(history)
        fixed = _message_cost(Message("user", prompt), count) + (
            _message_cost(Message("system", system_text), count) if system_text else 0
        )
    else:
        fim = profile.fim if profile.format == "fim" else None
        fixed = count(prompt) + (_fim_cost(fim, count) if fim else 0)
    if fixed > budget:
        raise PromptTooLarge(fixed, budget, max_tokens, profile.context_size)
    return fixed


def assemble(
    prompt: str,
    ranked: Sequence[Ranked],
    profile: ModelProfile,
    max_tokens: int,
    language: str | None = None,
    suffix: str | None = None,
    history: Sequence[Message] = (),
    count: TokenCounter | None = None,
) -> Assembly:
    """The prompt for `profile`, holding as many of the ranked chunks (best first) as fit."""
    count = count or TokenCounter()
    budget = budget_of(profile, max_tokens)
    fixed = check_fits(prompt, profile, max_tokens, history, count)
    if profile.format == "chat":
        return _assemble_chat(prompt, ranked, budget, fixed, language, history, count)
    return _assemble_text(prompt, ranked, profile, budget, fixed, language, suffix, count)


# --- completion and FIM -----------------------------------------------------------------


def _assemble_text(
    prompt: str,
    ranked: Sequence[Ranked],
    profile: ModelProfile,
    budget: int,
    prompt_cost: int,
    language: str | None,
    suffix: str | None,
    count: TokenCounter,
) -> Assembly:
    fim = profile.fim if profile.format == "fim" else None
    suffix_text, suffix_truncated = "", False
    if fim and suffix:
        suffix_text = _fit_suffix(suffix, budget - prompt_cost, count)
        suffix_truncated = suffix_text != suffix
    base = prompt_cost + count(suffix_text)

    def section(chunk: Ranked) -> str:
        if fim and fim.file_separator:
            return _file_block(fim.file_separator, chunk)
        return _commented_section(chunk, language)

    used, over = _fill(ranked, section, budget - base, count)
    while True:
        sections = "".join(section(r) for r in reversed(used))
        if fim is None:
            text = sections + prompt
        elif fim.file_separator:
            text = f"{sections}{fim.prefix}{prompt}{fim.suffix}{suffix_text}{fim.middle}"
        else:
            text = f"{fim.prefix}{sections}{prompt}{fim.suffix}{suffix_text}{fim.middle}"
        tokens = count(text)
        if tokens <= budget or not used:
            break
        over.insert(0, used.pop())  # cannot happen with an additive estimate; stay safe
    return Assembly(
        prompt=text,
        messages=None,
        prompt_tokens=tokens,
        budget_tokens=budget,
        used=tuple(used),
        over_budget=tuple(over),
        suffix_truncated=suffix_truncated,
    )


def _fim_cost(fim: FimTokens, count: TokenCounter) -> int:
    return count(fim.prefix) + count(fim.suffix) + count(fim.middle)


def _fit_suffix(suffix: str, room: int, count: TokenCounter) -> str:
    """The longest start of the suffix (whole lines where possible) that fits `room`."""
    if count(suffix) <= room:
        return suffix
    lines = suffix.splitlines(keepends=True)
    low, high = 0, len(lines)  # binary search the number of lines kept
    while low < high:
        middle = (low + high + 1) // 2
        if count("".join(lines[:middle])) <= room:
            low = middle
        else:
            high = middle - 1
    return "".join(lines[:low])


def _commented_section(ranked: Ranked, language: str | None) -> str:
    chunk = ranked.chunk
    opener, closer = comment_syntax(language or chunk.language)
    where = f"path: {chunk.path}" if chunk.path else "snippet"
    return f"{opener} {where}{closer}\n{chunk.text}\n\n"


def _file_block(separator: str, ranked: Ranked) -> str:
    chunk = ranked.chunk
    return f"{separator}{chunk.path or 'snippet'}\n{chunk.text}\n"


# --- chat -------------------------------------------------------------------------------


def _system_text(history: Sequence[Message]) -> str:
    return "\n\n".join(m.content for m in history if m.role == "system")


def _assemble_chat(
    prompt: str,
    ranked: Sequence[Ranked],
    budget: int,
    fixed: int,
    language: str | None,
    history: Sequence[Message],
    count: TokenCounter,
) -> Assembly:
    system_text = _system_text(history)
    turns = [m for m in history if m.role != "system"]
    user = Message("user", prompt)
    turn_costs = [_message_cost(m, count) for m in turns]
    dropped = 0
    remaining = sum(turn_costs)  # of turns[dropped:]
    while fixed + remaining > budget or (
        0 < dropped < len(turns) and turns[dropped].role != "user"
    ):
        remaining -= turn_costs[dropped]  # the oldest turn goes first; a cut history then
        dropped += 1  # starts with a user turn
    kept_turns = turns[dropped:]
    base = fixed + remaining
    # Context goes into the system message: its intro, and either the blank line after the
    # client's system text or a system turn of its own, are paid for with the first chunk.
    joint = count("\n\n") if system_text else TURN_OVERHEAD
    wrapper = count(CHAT_CONTEXT_INTRO) + joint

    def section(chunk: Ranked) -> str:
        return _fenced_section(chunk, language)

    used, over = _fill(ranked, section, budget - base - wrapper, count)
    while True:
        messages = _chat_messages(
            system_text, [section(r) for r in reversed(used)], kept_turns, user
        )
        tokens = sum(_message_cost(m, count) for m in messages)
        if tokens <= budget or not used:
            break
        over.insert(0, used.pop())
    return Assembly(
        prompt=None,
        messages=tuple(messages),
        prompt_tokens=tokens,
        budget_tokens=budget,
        used=tuple(used),
        over_budget=tuple(over),
        history_dropped=dropped,
    )


def _chat_messages(
    system_text: str, sections: Sequence[str], turns: Sequence[Message], user: Message
) -> list[Message]:
    parts = [system_text] if system_text else []
    if sections:
        parts.append(CHAT_CONTEXT_INTRO + "".join(sections).rstrip("\n"))
    system = [Message("system", "\n\n".join(parts))] if parts else []
    return [*system, *turns, user]


def _fenced_section(ranked: Ranked, language: str | None) -> str:
    chunk = ranked.chunk
    where = chunk.path or "snippet"
    fence = "````" if "```" in chunk.text else "```"
    return f"{where}:\n{fence}{chunk.language or language or ''}\n{chunk.text}\n{fence}\n\n"


def _message_cost(message: Message, count: TokenCounter) -> int:
    return count(message.content) + TURN_OVERHEAD


# --- filling ----------------------------------------------------------------------------


def _fill(
    ranked: Sequence[Ranked], section: _Section, room: int, count: TokenCounter
) -> tuple[list[Ranked], list[Ranked]]:
    """Greedy by rank: take each chunk whose section still fits the room left; give up
    after MAX_MISSES chunks in a row did not fit (the rest rank lower anyway)."""
    used: list[Ranked] = []
    over: list[Ranked] = []
    misses = 0
    for position, candidate in enumerate(ranked):
        if room < MIN_SECTION_TOKENS or misses >= MAX_MISSES:
            over.extend(ranked[position:])
            break
        text = section(candidate)
        if estimate_floor(text) > room or (cost := count(text)) > room:
            over.append(candidate)
            misses += 1
            continue
        used.append(candidate)
        room -= cost
        misses = 0
    return used, over
