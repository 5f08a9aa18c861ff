"""build_prompt: budget check -> parser -> chunker -> dedup -> ranker -> assembler, with a
report of each chunk.

What stays true:

- Linear: every stage is linear in the request's size (tests/unit/retrieval/test_linearity.py
  guards this for each stage and adversarial inputs: one giant line, repeated characters,
  unbalanced brackets and quotes, long words for each language cue).
- The prompt alone is checked against the budget first (PromptTooLarge before any work).
- The deadline is checked between stages and inside the loops over snippets and chunks;
  past the time budget the context is left out (`PromptPlan.context_skipped`), cancelled
  raises PipelineCancelled.
- Caches: read and staged through one session of the app's `PipelineCache`, committed only
  once the prompt is assembled; a rejected or cancelled request adds nothing.
- Stages: `STAGES` is their order; an `on_stage` observer is told of each as it ends (the
  pipeline bench times them with it, so it measures this code, not a copy of its order).
"""

from __future__ import annotations

from collections.abc import Callable

from cerebrum.retrieval.assembler import assemble, check_fits
from cerebrum.retrieval.cache import PipelineCache, detached
from cerebrum.retrieval.chunker import Chunk, chunk_snippets
from cerebrum.retrieval.deadline import Deadline, OutOfTime
from cerebrum.retrieval.dedup import Dropped, deduplicate
from cerebrum.retrieval.instruction_parser import parse_instruction
from cerebrum.retrieval.plan import ChunkReport, PromptPlan
from cerebrum.retrieval.ranker import Ranked, rank_chunks
from cerebrum.retrieval.request import ModelProfile, PromptRequest
from cerebrum.retrieval.tokens import TokenCounter

STAGES = ("budget", "parse", "chunk", "dedup", "rank", "assemble")  # build_prompt's order


def _unobserved(stage: str) -> None:
    pass


def build_prompt(
    request: PromptRequest,
    profile: ModelProfile,
    *,
    cache: PipelineCache | None = None,
    deadline: Deadline | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> PromptPlan:
    """The prompt to send for `request` to the model described by `profile`.

    `cache` is the app's PipelineCache (None: nothing is remembered between calls);
    `deadline` bounds the time spent on the context (None: no limit);
    `on_stage` is called with each stage's name (STAGES) as the stage ends (the context
    stages are not reported when the deadline left the context out).
    Raises PromptTooLarge when the prompt (with the client's system turns) alone does not
    fit context_size - max_tokens - margin_tokens, PipelineCancelled when the deadline is
    cancelled.
    """
    session = detached() if cache is None else cache.session()
    deadline = deadline or Deadline()
    ended = on_stage or _unobserved
    count = TokenCounter(session, exact=request.token_counts)
    check_fits(
        request.prompt, profile, request.max_tokens, request.history, count, request.trim_prompt
    )
    ended("budget")
    instruction = parse_instruction(
        request.prompt, request.language, [(s.path, s.text) for s in request.context]
    )
    ended("parse")
    ranked: list[Ranked] = []
    dropped_chunks: list[Dropped] = []
    skipped = False
    try:
        deadline.check()
        chunks = chunk_snippets(
            request.context, instruction.language, cache=session, deadline=deadline
        )
        ended("chunk")
        deadline.check()
        unique = deduplicate(chunks, request.prompt, cache=session, deadline=deadline)
        ended("dedup")
        deadline.check()
        ranked = rank_chunks(
            unique.kept,
            request.prompt,
            instruction.symbols,
            instruction.language,
            request.suffix,
            snippet_count=len(request.context),
            cache=session,
            deadline=deadline,
        )
        ended("rank")
        dropped_chunks = unique.dropped
    except OutOfTime:
        ranked, dropped_chunks, skipped = [], [], True
    assembly = assemble(
        request.prompt,
        ranked,
        profile,
        request.max_tokens,
        language=instruction.language,
        suffix=request.suffix,
        history=request.history,
        count=count,
        layout=request.layout,
        reserve=request.reserve_tokens,
        trim=request.trim_prompt,
    )
    session.commit()
    ended("assemble")
    dropped = [
        *(_report(r, "budget") for r in assembly.over_budget),
        *(_report_chunk(d.chunk, d.reason, d.duplicate_of) for d in dropped_chunks),
    ]
    return PromptPlan(
        prompt=assembly.prompt,
        messages=assembly.messages,
        language=instruction.language,
        intent=instruction.intent,
        symbols=instruction.symbols,
        prompt_tokens=assembly.prompt_tokens,
        budget_tokens=assembly.budget_tokens,
        chunks_used=tuple(_report(r) for r in assembly.used),
        chunks_dropped=tuple(dropped),
        history_dropped=assembly.history_dropped,
        suffix_truncated=assembly.suffix_truncated,
        context_skipped=skipped,
        own_tokens=assembly.own_tokens,
        uncounted=count.estimated if assembly.over_budget else {},
    )


def _report(ranked: Ranked, reason: str | None = None) -> ChunkReport:
    chunk = ranked.chunk
    return ChunkReport(
        id=chunk.id,
        path=chunk.path,
        start_line=chunk.start_line,
        end_line=chunk.end_line,
        score=ranked.score,
        score_parts=ranked.parts,
        reason=reason,
    )


def _report_chunk(chunk: Chunk, reason: str, duplicate_of: str | None) -> ChunkReport:
    return ChunkReport(
        id=chunk.id,
        path=chunk.path,
        start_line=chunk.start_line,
        end_line=chunk.end_line,
        reason=reason,
        duplicate_of=duplicate_of,
    )
