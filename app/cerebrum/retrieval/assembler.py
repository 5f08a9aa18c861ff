"""Fill the model's budget with the best chunks and format the prompt for the model.

budget = context_size - max_tokens - margin_tokens. The request's own text (prompt, pinned
system turns, the chat history that fits, the FIM suffix that fits) is placed first; the
ranked chunks then go in whole when they all fit what is left; else definitions first: the
best chunk whole if it takes at most half the room, each chunk's outline (the lines that
define its names, less those the prompt or the chunks taken already hold), best first,
then the best chunks whole in place of their outlines while the room allows, so that the
room holds many files' definitions rather than one file's body.
Costs are the estimate (`estimate_tokens`, an upper bound) or, for the parts the backend's
tokenizer has counted (`PromptRequest.token_counts`), the exact count; the prompt's cost is
the sum of its parts, so the result never exceeds the budget.

Where the chunks go is kept stable for the backend's prompt cache: the chunks of the
session's previous prompt (`layout`) keep their order, new ones follow in the order of the
request's context, and the text nearest the cursor comes last. The rank decides only which
new chunks take the room the incumbents leave, so the set does not flip between keystrokes.

Formats:
- "completion": the chunks as file sections headed by a comment in the chunk's language
  (`# path: utils.py`), then the prompt;
- "chat": one system message (the client's system turns, then the chunks in fenced blocks),
  the history, the prompt as the last user turn; oldest turns are dropped when short of room;
- "fim": as llama-server's /infill writes it: with a file separator, the repo-name token and
  `myproject`, each chunk as `<file_sep>path` and its text, `<file_sep>filename`, then prefix
  token, prompt, suffix token, suffix, middle token; without one, the chunks as commented
  sections after the prefix token. The suffix is cut from its far end when short of room
  (or beyond the model's `max_suffix_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, replace

from cerebrum.retrieval.chunker import chunk_id, normalize
from cerebrum.retrieval.languages import comment_syntax
from cerebrum.retrieval.plan import PromptTooLarge
from cerebrum.retrieval.ranker import Ranked
from cerebrum.retrieval.references import definition_lines
from cerebrum.retrieval.request import FimTokens, Message, ModelProfile
from cerebrum.retrieval.tokens import TokenCounter, estimate_floor

TURN_OVERHEAD = 8  # tokens a chat template adds around one message (role, start/end marks)
MIN_SECTION_TOKENS = 8  # below this much room left, stop trying further chunks
BEST_SHARE = 0.5  # of the room the best chunk may take whole before the others' outlines
MAX_OUTLINES = 32  # the best chunks whose outlines are tried (each outline is a pass over it)
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
    own_tokens: int = 0  # what the request's own text costs (prompt_tokens less the context)


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
    trim: bool = False,
) -> int:
    """The tokens every prompt for this request costs, whatever its context (the prompt, the
    FIM tokens, or the user turn and the client's system turns); PromptTooLarge if they alone
    exceed the budget (with ``trim``, only if the FIM tokens alone do: the prompt is cut to
    fit). Cheap (one estimate), so build_prompt runs it before any other stage."""
    count = count or TokenCounter()
    budget = budget_of(profile, max_tokens)
    if profile.format == "chat":
        system_text = _system_text(history)
        fixed = _message_cost(Message("user", prompt), count) + (
            _message_cost(Message("system", system_text), count) if system_text else 0
        )
    else:
        fixed = _frame_cost(_fim_of(profile), count) + (0 if trim else count.part(prompt))
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
    *,
    layout: Sequence[str] = (),
    reserve: int = 0,
    trim: bool = False,
) -> Assembly:
    """The prompt for `profile`, holding as many of the ranked chunks (best first; those in
    `layout` first of all) as fit the budget less `reserve`; `trim` cuts a prompt too long
    for the budget near its start instead of refusing it (completion and FIM formats)."""
    count = count or TokenCounter()
    budget = budget_of(profile, max_tokens)
    fixed = check_fits(prompt, profile, max_tokens, history, count, trim=trim)
    if profile.format == "chat":
        return _assemble_chat(prompt, ranked, budget, fixed, language, history, count)
    return _assemble_text(
        prompt, ranked, profile, budget, language, suffix, count, layout, reserve, trim
    )


# --- completion and FIM -----------------------------------------------------------------

REPO_NAME = "myproject"  # what llama-server's /infill writes after the repo-name token
CURRENT_FILE = "filename"  # and after the file separator that opens the file being edited
PROMPT_SHARE = 0.75  # a trimmed prompt takes at most this share of the budget (/infill: 3/4)
SUFFIX_SHARE = 0.25  # ... and a trimmed request's suffix at most this share
TRIM_STEP = 16  # a trimmed prompt loses whole lines in steps of this many, so that the
#                 text before the cursor keeps the same start while the user types


def _fim_of(profile: ModelProfile) -> FimTokens | None:
    return profile.fim if profile.format == "fim" else None


def _frame(fim: FimTokens | None) -> tuple[str, str]:
    """What a FIM prompt with a file separator writes before the context and between the
    context and the prefix token, as llama-server's /infill does."""
    if fim is None or fim.file_separator is None:
        return "", ""
    head = f"{fim.repo_name}{REPO_NAME}\n" if fim.repo_name else ""
    return head, f"{fim.file_separator}{CURRENT_FILE}\n"


def _frame_cost(fim: FimTokens | None, count: TokenCounter) -> int:
    if fim is None:
        return 0
    head, tail = _frame(fim)
    return sum(map(count, (fim.prefix, fim.suffix, fim.middle, head, tail)))


def _assemble_text(
    prompt: str,
    ranked: Sequence[Ranked],
    profile: ModelProfile,
    budget: int,
    language: str | None,
    suffix: str | None,
    count: TokenCounter,
    layout: Sequence[str],
    reserve: int,
    trim: bool,
) -> Assembly:
    fim = _fim_of(profile)
    frame = _frame_cost(fim, count)
    room = budget - frame
    if trim:
        prompt = _trim_start(prompt, int(room * (PROMPT_SHARE if fim else 1.0)), count)
    prompt_cost = count.part(prompt)
    suffix_text, suffix_truncated = "", False
    if fim and suffix:
        suffix_room = room - prompt_cost
        if trim:
            suffix_room = min(suffix_room, int(room * SUFFIX_SHARE))
        if fim.max_suffix_tokens is not None:
            suffix_room = min(suffix_room, fim.max_suffix_tokens)
        suffix_text = _fit_suffix(suffix, suffix_room, count)
        suffix_truncated = suffix_text != suffix
    base = frame + prompt_cost + count.part(suffix_text)

    def section(chunk: Ranked) -> str:
        if fim and fim.file_separator:
            return _file_block(fim.file_separator, chunk)
        return _commented_section(chunk, language)

    staying, others = _incumbents_first(ranked, layout)
    room = budget - base - reserve
    used, over, cost = _fill(staying, section, room, count, keep_prefix=True)
    more, over_too, more_cost = _fill(others, section, room - cost, count, seen=_lines(prompt))
    used, over, cost = used + more, over + over_too, cost + more_cost
    sections = "".join(section(r) for r in _in_layout(used, layout))
    head, tail = _frame(fim)
    if fim is None:
        text = sections + prompt
    elif fim.file_separator:
        text = f"{head}{sections}{tail}{fim.around(prompt, suffix_text)}"
    else:
        text = fim.around(sections + prompt, suffix_text)
    return Assembly(
        prompt=text,
        messages=None,
        prompt_tokens=base + cost,
        budget_tokens=budget,
        used=tuple(_in_layout(used, layout)),
        over_budget=tuple(over),
        suffix_truncated=suffix_truncated,
        own_tokens=base,
    )


def _incumbents_first(
    ranked: Sequence[Ranked], layout: Sequence[str]
) -> tuple[list[Ranked], list[Ranked]]:
    """The chunks of the session's previous prompt (`layout`) still in the request, in their
    old order, and the others, best first. Incumbents keep their place while they fit, and
    the rank decides only which newcomers take the room left: on a CPU backend every chunk
    that moves costs its whole prompt processing again, far more than a better chunk gains.
    (The context itself moves on as the client's own ring of chunks does.)"""
    position = {chunk_id: index for index, chunk_id in enumerate(layout)}
    incumbents = sorted(
        (r for r in ranked if r.chunk.id in position), key=lambda r: position[r.chunk.id]
    )
    return incumbents, sorted(
        (r for r in ranked if r.chunk.id not in position), key=lambda r: -r.score
    )


def _in_layout(used: Sequence[Ranked], layout: Sequence[str]) -> list[Ranked]:
    """Where the chunks go in the prompt: those of the previous prompt in their old order,
    then the new ones in the order of the request's context; the rank decides which chunks
    go in, never where, so consecutive prompts share the longest possible start."""
    position = {chunk_id: index for index, chunk_id in enumerate(layout)}
    late = len(position)
    return sorted(
        used,
        key=lambda r: (
            position.get(r.chunk.id, late),
            r.chunk.snippet_index,
            r.chunk.start_line,
        ),
    )


def _trim_start(prompt: str, room: int, count: TokenCounter) -> str:
    """The prompt without as few of its first lines (a multiple of TRIM_STEP) as make it
    fit `room`; the end of its last line when even that line alone does not fit."""
    if count(prompt) <= room:
        return prompt
    lines = prompt.splitlines(keepends=True)
    steps = (len(lines) - 1) // TRIM_STEP  # the last line always stays
    low, high = 1, steps  # binary search the number of steps cut
    while low <= high:
        middle = (low + high) // 2
        if count("".join(lines[middle * TRIM_STEP :])) <= room:
            high = middle - 1
        else:
            low = middle + 1
    if low <= steps:
        return "".join(lines[low * TRIM_STEP :])
    last = lines[-1]
    keep = len(last)
    while keep and count(last[-keep:]) > room:
        keep //= 2
    return last[-keep:] if keep else ""


def _fit_suffix(suffix: str, room: int, count: TokenCounter) -> str:
    """The longest start of the suffix (whole lines where possible) that fits `room`."""
    if count.part(suffix) <= room:
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
    opener, closer = comment_syntax(chunk.language or language)  # stable per chunk
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

    used, over, _ = _fill(ranked, section, budget - base - wrapper, count, seen=_lines(prompt))
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

OUTLINE_PART = "outline"  # the score part that marks a chunk written as its outline


def outline(ranked: Ranked, taken: Container[str] = frozenset()) -> Ranked | None:
    """The chunk cut to the lines that define its names (`references.definition_lines`),
    but for those in `taken` (already in the prompt), same path, lines and score, marked by
    an OUTLINE_PART of 0; None when that is all of the chunk or nothing."""
    chunk = ranked.chunk
    lines = definition_lines(chunk.text).splitlines(keepends=True)
    text = "".join(line for line in lines if line not in taken)
    if not text or len(text) >= len(chunk.text) or ranked.parts[-1:] == ((OUTLINE_PART, 0.0),):
        return None
    normalized = normalize(text)
    short = replace(chunk, id=chunk_id(chunk.path, normalized), text=text, normalized=normalized)
    return Ranked(short, ranked.score, (*ranked.parts, (OUTLINE_PART, 0.0)))


def _lines(text: str) -> frozenset[str]:
    """The lines of the text, each with its newline (as outlines hold them)."""
    return frozenset(line if line.endswith("\n") else line + "\n" for line in text.splitlines())


class _Either:
    """Lines in one of two collections."""

    def __init__(self, first: Container[str], second: Container[str]) -> None:
        self.first, self.second = first, second

    def __contains__(self, line: object) -> bool:
        return line in self.first or line in self.second


def _fill(
    ranked: Sequence[Ranked],
    section: _Section,
    room: int,
    count: TokenCounter,
    keep_prefix: bool = False,
    seen: frozenset[str] = frozenset(),
) -> tuple[list[Ranked], list[Ranked], int]:
    """All the chunks whole when they fit the room; else, with `keep_prefix` (the incumbents,
    whose text must not change), whole up to the first that does not fit (the chunks taken
    stay a prefix of the order), and otherwise definitions first (`_fill_outlines_first`).
    Returns the chunks taken (in the given order), those left out, and the tokens taken."""
    used: list[Ranked] = []
    taken = 0
    for position, candidate in enumerate(ranked):
        text = section(candidate)
        if (
            room < MIN_SECTION_TOKENS
            or estimate_floor(text) > room
            or (cost := count.part(text)) > room
        ):
            if keep_prefix:
                return used, list(ranked[position:]), taken
            return _fill_outlines_first(ranked, section, room + taken, count, seen)
        used.append(candidate)
        room -= cost
        taken += cost
    return used, [], taken


def _fill_outlines_first(
    ranked: Sequence[Ranked],
    section: _Section,
    room: int,
    count: TokenCounter,
    seen: frozenset[str] = frozenset(),
) -> tuple[list[Ranked], list[Ranked], int]:
    """Definitions first, then bodies, each pass in the given order: the best chunk whole if
    it takes at most BEST_SHARE of the room; the outlines (`outline`) of the best
    MAX_OUTLINES chunks while they fit; then each chunk whole, in place of its outline or
    (for a chunk with no shorter outline, or none taken) on its own, while the difference
    fits the room left. Each pass gives up after MAX_MISSES chunks in a row that did not fit
    (the rest rank lower anyway). So the room holds the definitions of many chunks and the
    best chunks' bodies. An outline leaves out the lines `seen` (the prompt's) and the
    chunks taken of its file hold: those are kept per path, no more text than the room
    holds."""
    start = room
    choice: list[tuple[Ranked, int] | None] = [None] * len(ranked)  # (entry taken, its cost)
    taken: dict[str | None, set[str]] = {}  # path -> the lines of it taken
    if ranked and (cost := count.part(text := section(ranked[0]))) <= BEST_SHARE * room:
        choice[0] = (ranked[0], cost)  # the best chunk whole, while it leaves room for others
        taken[ranked[0].chunk.path] = set(ranked[0].chunk.text.splitlines(keepends=True))
        room -= cost
    misses = 0
    for position, candidate in enumerate(ranked[:MAX_OUTLINES]):
        if room < MIN_SECTION_TOKENS or misses >= MAX_MISSES:
            break
        if choice[position] is not None:
            continue
        lines = taken.setdefault(candidate.chunk.path, set())
        short = outline(candidate, _Either(seen, lines))
        if short is None:
            continue  # no shorter outline: considered whole with the bodies
        text = section(short)
        if estimate_floor(text) > room or (cost := count.part(text)) > room:
            misses += 1
            continue
        choice[position] = (short, cost)
        lines.update(short.chunk.text.splitlines(keepends=True))
        room -= cost
        misses = 0
    misses = 0
    for position, candidate in enumerate(ranked):
        if room < MIN_SECTION_TOKENS or misses >= MAX_MISSES:
            break
        held = choice[position]
        held_cost = held[1] if held is not None else 0
        text = section(candidate)
        if estimate_floor(text) - held_cost > room or (cost := count.part(text)) - held_cost > room:
            misses += held is None
            continue
        choice[position] = (candidate, cost)
        room -= cost - held_cost
        misses = 0
    used = [held[0] for held in choice if held is not None]
    over = [candidate for candidate, held in zip(ranked, choice, strict=True) if held is None]
    return used, over, start - room
