"""The guard for the whole class of "super-linear pipeline" bugs: every stage of the prompt
pipeline, and build_prompt as a whole, on every adversarial input (harness/adversarial.py),
must take about 4x the time for 4x the input.

A growth below 8x for 4x the input passes (linear is 4x, quadratic 16x). Each case is timed
once at both sizes; a case over the limit is timed again, best of three, up to three rounds,
and fails only if every round is over, so that noise on the shared machine does not fail
it. Times are the test thread's CPU time (other processes on the machine do not count);
below FLOOR seconds they count as FLOOR.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cerebrum.retrieval import (
    FimTokens,
    Message,
    ModelProfile,
    PromptRequest,
    Snippet,
    build_prompt,
    estimate_tokens,
)
from cerebrum.retrieval.chunker import chunk_snippets
from cerebrum.retrieval.control import defuse
from cerebrum.retrieval.dedup import deduplicate
from cerebrum.retrieval.instruction_parser import parse_instruction
from cerebrum.retrieval.ranker import rank_chunks
from cerebrum.retrieval.references import at_cursor, defined_names, definition_lines, imports

from harness.adversarial import GENERATORS

SMALL = 4_000
GROWTH = 4
LIMIT = 8.0
FLOOR = 0.001
REPEATS = 3

LARGE_CONTEXT = ModelProfile(context_size=1 << 22)
FIM = ModelProfile(context_size=1 << 22, format="fim", fim=FimTokens("<P>", "<S>", "<M>", "<F>"))


@dataclass(frozen=True)
class Entry:
    """A pipeline entry point: `prepare` builds its arguments (untimed), `run` is timed;
    `small` keeps both sizes within the windows a stage reads (else the window hides it)."""

    prepare: Callable[[str], Any]
    run: Callable[[Any], object]
    small: int = SMALL


def _chunks_and_symbols(text: str) -> tuple[list[Any], str, tuple[str, ...]]:
    chunks = chunk_snippets([Snippet(text, "a.py"), Snippet(text)], "c")
    symbols = (*parse_instruction(text).symbols, "a", "f", "def")
    return chunks, text, symbols


def _turns(text: str) -> tuple[Message, ...]:
    pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
    return tuple(Message("user" if i % 2 else "assistant", p) for i, p in enumerate(pieces))


ENTRIES: dict[str, Entry] = {
    "parse the prompt": Entry(lambda t: t, lambda t: parse_instruction(t), small=2_000),
    "parse context cues": Entry(
        lambda t: [(None, t)], lambda c: parse_instruction("x", None, c), small=1_000
    ),
    "chunk python": Entry(lambda t: [Snippet(t)], lambda s: chunk_snippets(s, "python")),
    "chunk braces": Entry(lambda t: [Snippet(t)], lambda s: chunk_snippets(s, "c")),
    "chunk lines": Entry(lambda t: [Snippet(t)], lambda s: chunk_snippets(s, None)),
    "dedup": Entry(_chunks_and_symbols, lambda a: deduplicate(a[0], a[1])),
    "rank": Entry(_chunks_and_symbols, lambda a: rank_chunks(a[0], a[1], a[2], "c", a[1])),
    "references at the cursor": Entry(lambda t: t, lambda t: at_cursor(t, t)),
    "references in an open import": Entry(
        lambda t: ("export {\n" + t.replace("}", ""), t.replace("}", "") + "}"),
        lambda a: at_cursor(*a),
        small=1_000,
    ),
    "imports of the prompt": Entry(lambda t: t, imports),
    "names a chunk defines": Entry(lambda t: t, defined_names),
    "a chunk's outline": Entry(lambda t: t, definition_lines),
    "estimate tokens": Entry(lambda t: t, estimate_tokens),
    "defuse control strings": Entry(lambda t: t, lambda t: defuse(t, FIM.fim)),
    "build_prompt, text as prompt and context": Entry(
        lambda t: PromptRequest(t, None, (Snippet(t, "a.py"), Snippet(t))),
        lambda r: build_prompt(r, LARGE_CONTEXT),
    ),
    "build_prompt, context over a small budget (outlines)": Entry(
        lambda t: PromptRequest("x", None, (Snippet(t, "a.py"), Snippet(t, "b.ts"))),
        lambda r: build_prompt(r, ModelProfile(context_size=2048)),
    ),
    "build_prompt, fim with text as suffix": Entry(
        lambda t: PromptRequest("x", None, (Snippet(t, "a.c"),), suffix=t),
        lambda r: build_prompt(r, FIM),
    ),
    "build_prompt, chat history cut to fit": Entry(
        lambda t: PromptRequest("x", history=_turns(t)),
        lambda r: build_prompt(r, ModelProfile(context_size=4096, format="chat")),
    ),
}


def _seconds(run: Callable[[Any], object], argument: Any, repeats: int) -> float:
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.thread_time()
            run(argument)
            best = min(best, time.thread_time() - started)
    finally:
        gc.enable()
    return max(best, FLOOR)


def growth(entry: Entry, text_of: Callable[[int], str]) -> float:
    """Time ratio of `entry` on GROWTH times the input (re-measured, best of REPEATS, up to
    REPEATS rounds, while it is over LIMIT)."""
    small, large = entry.prepare(text_of(entry.small)), entry.prepare(text_of(entry.small * GROWTH))
    ratio = _seconds(entry.run, large, 1) / _seconds(entry.run, small, 1)
    for _ in range(REPEATS):
        if ratio < LIMIT:
            break
        ratio = _seconds(entry.run, large, REPEATS) / _seconds(entry.run, small, REPEATS)
    return ratio


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_stage_is_linear_on_adversarial_input(name: str) -> None:
    entry = ENTRIES[name]
    slow = {}
    for generator, text_of in GENERATORS.items():
        ratio = growth(entry, text_of)
        if ratio >= LIMIT:
            slow[generator] = round(ratio, 1)
    assert not slow, f"{name}: time grows faster than linear for {slow}"


def test_the_guard_catches_a_quadratic_scan() -> None:
    """The measurement itself: a quadratic function fails it, a linear one passes."""

    def quadratic(text: str) -> int:
        return sum(text.count("a", i) for i in range(len(text)))

    assert growth(Entry(lambda t: t, quadratic), GENERATORS["letter"]) >= LIMIT
    assert growth(Entry(lambda t: t, lambda t: t.count("a")), GENERATORS["letter"]) < LIMIT
