"""build_prompt: parser -> chunker -> dedup -> ranker -> assembler, with a report of each chunk."""

from __future__ import annotations

from cerebrum.retrieval import chunker, dedup, ranker
from cerebrum.retrieval.assembler import assemble
from cerebrum.retrieval.chunker import Chunk, chunk_snippets
from cerebrum.retrieval.dedup import deduplicate
from cerebrum.retrieval.instruction_parser import parse_instruction
from cerebrum.retrieval.plan import ChunkReport, PromptPlan
from cerebrum.retrieval.ranker import Ranked, rank_chunks
from cerebrum.retrieval.request import ModelProfile, PromptRequest


def build_prompt(request: PromptRequest, profile: ModelProfile) -> PromptPlan:
    """The prompt to send for `request` to the model described by `profile`.

    Raises PromptTooLarge when the prompt (with the client's system turns) alone does not
    fit context_size - max_tokens - margin_tokens.
    """
    instruction = parse_instruction(
        request.prompt, request.language, [(s.path, s.text) for s in request.context]
    )
    chunks = chunk_snippets(request.context, instruction.language)
    unique = deduplicate(chunks, request.prompt)
    ranked = rank_chunks(
        unique.kept,
        request.prompt,
        instruction.symbols,
        instruction.language,
        request.suffix,
        snippet_count=len(request.context),
    )
    assembly = assemble(
        request.prompt,
        ranked,
        profile,
        request.max_tokens,
        language=instruction.language,
        suffix=request.suffix,
        history=request.history,
    )
    dropped = [
        *(_report(r, "budget") for r in assembly.over_budget),
        *(_report_chunk(d.chunk, d.reason, d.duplicate_of) for d in unique.dropped),
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
    )


def clear_caches() -> None:
    """Forget what was cached about earlier requests' context (chunks, line sets,
    identifier counts)."""
    chunker.clear_cache()
    dedup.clear_cache()
    ranker.clear_cache()


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
