"""Item 5: the prompt pipeline (chunk, dedup, rank, assemble) on 100 KB and 1 MB of context,
how deduplication grows from 1k to 20k chunks, and the pipeline's time per MB on adversarial
input (harness/adversarial.py) beside normal code.

Context is standard-library modules (`bench.prompts.stdlib_files`); the prompt is the end
of `textwrap.py` (which is not among them). "cold" gives each run a new PipelineCache (the
snippets were never seen); "warm" shares one and changes the prompt's last line each run (an
editor sending the same files with the next keystroke). Each stage is timed inside the real
`build_prompt` call, which tells its `on_stage` observer as each of its STAGES ends.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable

from cerebrum.retrieval import ModelProfile, PipelineCache, PromptRequest, Snippet, build_prompt
from cerebrum.retrieval.cache import MB
from cerebrum.retrieval.chunker import Chunk, chunk_id, normalize
from cerebrum.retrieval.dedup import deduplicate

try:
    from cerebrum.retrieval.pipeline import STAGES
except ImportError:  # an app from before build_prompt reported its stages (--app): totals only
    STAGES = ()

from bench.machine import load_average
from bench.prompts import STDLIB, stdlib_files
from bench.stats import Summary
from harness.adversarial import GENERATORS

PROFILE = ModelProfile(context_size=8192)
MAX_TOKENS = 256
SCALING_COUNTS = (1_000, 2_000, 5_000, 10_000, 20_000)
CACHE_BYTES = 32 * MB  # CEREBRUM_PIPELINE_CACHE_MB's default
ADVERSARIAL_BYTES = 256 * 1024
TARGET_MS_PER_MB = 250


def request(size: int, edit: int = 0) -> PromptRequest:
    """`size` bytes of context and the end of textwrap.py as the prompt."""
    tail = (STDLIB / "textwrap.py").read_text()[-1500:]
    prompt = f"{tail}\n# edit {edit}\ndef "
    context = tuple(Snippet(text, path) for path, text in stdlib_files(size))
    return PromptRequest(prompt, language="python", context=context, max_tokens=MAX_TOKENS)


def timed_stages(prompt: PromptRequest, cache: PipelineCache) -> dict[str, float]:
    """Seconds build_prompt spent in each of its stages for this request, and in the whole
    call (`total`: the stages and the plan's report)."""
    clock = time.perf_counter
    marks: list[tuple[str, float]] = []

    def ended_stage(stage: str) -> None:
        marks.append((stage, clock()))

    started = clock()
    observed = {"on_stage": ended_stage} if STAGES else {}
    build_prompt(prompt, PROFILE, cache=cache, **observed)
    ended = clock()
    times, previous = {}, started
    for stage, at in marks:
        times[stage], previous = at - previous, at
    times["total"] = ended - started
    return times


def measure(size: int, runs: int) -> dict[str, object]:
    """build_prompt for `size` bytes of context, cold and warm: per-stage medians and the
    whole call's p50/p99 (ms)."""
    load_before = load_average()
    cold = [timed_stages(request(size, run), PipelineCache(CACHE_BYTES)) for run in range(runs)]
    shared = PipelineCache(CACHE_BYTES)
    warm = [timed_stages(request(size, run), shared) for run in range(runs + 1)][1:]
    plan = build_prompt(request(size), PROFILE)
    return {
        "context_bytes": sum(len(s.text.encode()) for s in request(size).context),
        "files": len(request(size).context),
        "chunks": len(plan.chunks_used) + len(plan.chunks_dropped),
        "chunks_used": len(plan.chunks_used),
        "chunks_dropped": len(plan.chunks_dropped),
        "runs": runs,
        "cold_ms": _stage_summary(cold),
        "warm_ms": _stage_summary(warm),
        "load_before": load_before,
        "load_after": load_average(),
    }


def _stage_summary(runs: list[dict[str, float]]) -> dict[str, object]:
    medians = {
        stage: round(Summary.of([run[stage] for run in runs]).p50 * 1000, 3) for stage in STAGES
    }
    total = Summary.of([run["total"] for run in runs]).scaled(1000)
    return {"stage_p50": medians, "total": total.as_dict(3)}


# --- dedup scaling ------------------------------------------------------------------------


def code_like_chunks(count: int, seed: int = 1, planted_share: float = 0.01) -> list[Chunk]:
    """`count` random code-like chunks of 20 lines, 1% of them near copies of earlier ones
    (one line changed), as in tests/unit/retrieval/test_dedup.py."""
    rng = random.Random(seed)
    common = ["}", "return result", "", "else:", "pass", "break;", "{", "i += 1"]
    planted = int(count * planted_share)
    texts: list[list[str]] = []
    for _ in range(count - planted):
        texts.append([
            rng.choice(common) if rng.random() < 0.3
            else f"v{rng.randrange(10**6)} = f{rng.randrange(10**4)}(a{rng.randrange(10**5)})"
            for _ in range(20)
        ])  # fmt: skip
    for original in rng.sample(range(len(texts)), planted):
        lines = list(texts[original])
        lines[rng.randrange(20)] = f"edited_{original} = 1"
        texts.append(lines)
    return [_chunk("\n".join(lines), index) for index, lines in enumerate(texts)]


def _chunk(text: str, index: int) -> Chunk:
    normalized = normalize(text)
    return Chunk(chunk_id(None, normalized), None, 1, 20, text, index, "python", normalized)


def dedup_scaling(repeats: int = 3) -> dict[str, object]:
    """Cold deduplication time (best of `repeats`) for 1k..20k chunks, and its growth."""
    load_before = load_average()
    rows = []
    for count in SCALING_COUNTS:
        chunks = code_like_chunks(count)
        seconds = min(_cold(deduplicate, chunks) for _ in range(repeats))
        dropped = len(deduplicate(chunks).dropped)
        rows.append({"chunks": count, "ms": round(seconds * 1000, 2), "dropped": dropped})
    for previous, row in itertools.pairwise(rows):
        row["growth"] = round(row["ms"] / previous["ms"], 2)
        row["exponent"] = round(
            math.log(row["ms"] / previous["ms"]) / math.log(row["chunks"] / previous["chunks"]), 2
        )
    first, last = rows[0], rows[-1]
    overall = math.log(last["ms"] / first["ms"]) / math.log(last["chunks"] / first["chunks"])
    return {
        "rows": rows,
        "exponent_1k_to_20k": round(overall, 2),
        "load_before": load_before,
        "load_after": load_average(),
    }


def _cold(function: Callable[[list[Chunk]], object], chunks: list[Chunk]) -> float:
    started = time.perf_counter()  # no cache: every line set is computed
    function(chunks)
    return time.perf_counter() - started


# --- adversarial input --------------------------------------------------------------------


def adversarial_request(text: str) -> PromptRequest:
    """The text as a Python file, a C file and an editor buffer, its end as the prompt."""
    third = len(text) // 3
    context = (
        Snippet(text[:third], "adversarial.py"),
        Snippet(text[third : 2 * third], "adversarial.c"),
        Snippet(text[2 * third :]),
    )
    return PromptRequest(text[-2000:], context=context, max_tokens=MAX_TOKENS)


def ms_per_mb(prompt: PromptRequest, repeats: int) -> float:
    """Cold build_prompt (a new cache), best of `repeats`, in milliseconds of CPU time per MB
    of input (CPU time, so that other processes on a shared machine do not count)."""
    size = len(prompt.prompt) + sum(len(s.text) for s in prompt.context)
    best = min(_timed_build(prompt) for _ in range(repeats))
    return round(best * 1000 * MB / size, 1)


def _timed_build(prompt: PromptRequest) -> float:
    started = time.thread_time()
    build_prompt(prompt, PROFILE, cache=PipelineCache(CACHE_BYTES))
    return time.thread_time() - started


def adversarial(size: int = ADVERSARIAL_BYTES, repeats: int = 2) -> dict[str, object]:
    """build_prompt's ms per MB on each adversarial input of `size` characters, beside the
    same size of standard-library code."""
    load_before = load_average()
    normal = ms_per_mb(request(size), repeats)
    rows = sorted(
        ((ms_per_mb(adversarial_request(text_of(size)), repeats), name)
         for name, text_of in GENERATORS.items()),
        reverse=True,
    )  # fmt: skip
    figures = [ms for ms, _ in rows]
    return {
        "input_bytes": size,
        "normal_ms_per_mb": normal,
        "adversarial_ms_per_mb": {
            "median": Summary.of(figures).p50,
            "worst": rows[0][0],
            "worst_input": rows[0][1],
            "inputs": len(rows),
            "over_target": sum(ms > TARGET_MS_PER_MB for ms in figures),
        },
        "slowest": [{"input": name, "ms_per_mb": ms} for ms, name in rows[:5]],
        "target_ms_per_mb": TARGET_MS_PER_MB,
        "load_before": load_before,
        "load_after": load_average(),
    }
