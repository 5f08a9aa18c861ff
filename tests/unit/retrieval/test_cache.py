"""PipelineCache: the pipeline's only memory between requests; bounded in bytes, LRU, staged
(a rejected request adds nothing), thread-safe, and nothing at module level besides it."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Sized
from types import GenericAlias

import cerebrum.retrieval
import pytest
from cerebrum.core.stats import process_rss_bytes
from cerebrum.retrieval import (
    Deadline,
    ModelProfile,
    PipelineCache,
    PipelineCancelled,
    PromptRequest,
    PromptTooLarge,
    Snippet,
    build_prompt,
)
from cerebrum.retrieval.cache import ENTRY_OVERHEAD, MB

PROFILE = ModelProfile(context_size=8192)


def _context(seed: int, size: int = 20_000) -> tuple[Snippet, ...]:
    """Unique code: every line names identifiers no other seed uses, one of them very long."""
    lines = [f"long_identifier_{seed}_{'x' * 2000} = 1"]
    index = 0
    while sum(map(len, lines)) < size:
        lines.append(f"def step_{seed}_{index}(value_{index}):\n    return value_{index} + {seed}")
        index += 1
    text = "\n".join(lines)
    return (Snippet(text, f"module_{seed}.py"), Snippet(text[::-1]))


def _request(seed: int, prompt: str = "result = step_1_2(") -> PromptRequest:
    return PromptRequest(prompt, None, _context(seed))


def test_entries_are_evicted_least_recently_used_first_by_bytes() -> None:
    cache = PipelineCache(3 * (ENTRY_OVERHEAD + 100))
    for key in ("a", "b", "c"):
        session = cache.session()
        session.put(key, key, 100)
        session.commit()
    assert cache.session().get("a") == "a"  # "b" is now the least recently used
    session = cache.session()
    session.put("d", "d", 100)
    session.commit()
    reader = cache.session()
    assert [reader.get(key) for key in "abcd"] == ["a", None, "c", "d"]
    assert cache.size <= cache.max_bytes


def test_an_entry_larger_than_the_cache_is_not_kept() -> None:
    cache = PipelineCache(1000)
    session = cache.session()
    session.put("big", "x", 1000)
    session.commit()
    assert len(cache) == 0


def test_a_session_keeps_its_entries_until_commit() -> None:
    cache = PipelineCache(MB)
    session = cache.session()
    session.put("k", 1, 10)
    assert session.get("k") == 1
    assert cache.session().get("k") is None
    session.commit()
    assert cache.session().get("k") == 1


def test_build_prompt_fills_the_cache_and_stays_within_its_bytes() -> None:
    cache = PipelineCache(2 * MB)
    for seed in range(12):
        build_prompt(_request(seed), PROFILE, cache=cache)
        assert 0 < cache.size <= cache.max_bytes
    kinds = {key[0] for key in cache._entries}  # every kind shares the one LRU
    assert {"chunks", "lines", "words", "context", "terms", "run"} <= kinds


def test_a_prompt_too_large_is_rejected_before_any_other_stage_and_adds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unexpected(*args: object, **kwargs: object) -> None:
        raise AssertionError("the context was analysed for a prompt that cannot fit")

    monkeypatch.setattr("cerebrum.retrieval.pipeline.parse_instruction", unexpected)
    monkeypatch.setattr("cerebrum.retrieval.pipeline.chunk_snippets", unexpected)
    cache = PipelineCache(8 * MB)
    with pytest.raises(PromptTooLarge):
        build_prompt(_request(1, prompt="x = 1\n" * 10_000), PROFILE, cache=cache)
    assert len(cache) == 0


def test_a_cancelled_request_adds_nothing() -> None:
    cache = PipelineCache(8 * MB)
    deadline = Deadline()
    deadline.cancel()
    with pytest.raises(PipelineCancelled):
        build_prompt(_request(1), PROFILE, cache=cache, deadline=deadline)
    assert len(cache) == 0


def test_past_its_time_budget_the_pipeline_leaves_the_context_out() -> None:
    ticks = iter(range(1000))
    deadline = Deadline(3, clock=lambda: float(next(ticks)))  # the budget ends at the 3rd check
    plan = build_prompt(_request(1), PROFILE, cache=PipelineCache(8 * MB), deadline=deadline)
    assert plan.context_skipped
    assert plan.chunks_used == ()
    assert plan.prompt == "result = step_1_2("
    assert plan.summary()["context_skipped"] is True


def test_a_warm_cache_gives_the_same_plan_as_none() -> None:
    cache = PipelineCache(8 * MB)
    cold = build_prompt(_request(3), PROFILE)
    build_prompt(_request(3), PROFILE, cache=cache)
    assert build_prompt(_request(3), PROFILE, cache=cache) == cold


def test_requests_in_threads_share_the_cache_safely() -> None:
    cache = PipelineCache(MB)
    expected = {seed: build_prompt(_request(seed), PROFILE) for seed in range(8)}
    failures: list[str] = []

    def serve(seed: int) -> None:
        for _ in range(3):
            if build_prompt(_request(seed), PROFILE, cache=cache) != expected[seed]:
                failures.append(f"seed {seed}")

    threads = [threading.Thread(target=serve, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert cache.size <= cache.max_bytes


def test_the_pipeline_keeps_no_state_at_module_level() -> None:
    """The guard for the class: no container anywhere in retrieval/ grows with requests."""
    modules = [
        importlib.import_module(f"cerebrum.retrieval.{info.name}")
        for info in pkgutil.iter_modules(cerebrum.retrieval.__path__)
    ]

    def sizes() -> dict[str, int]:
        return {
            f"{module.__name__}.{name}": len(value)
            for module in modules
            for name, value in vars(module).items()
            if isinstance(value, Sized) and not isinstance(value, (str, bytes, type, GenericAlias))
        }

    before = sizes()
    for seed in range(5):
        build_prompt(_request(seed, prompt=f"value_{seed} = step_{seed}_1("), PROFILE)
    changed = {name: (before[name], size) for name, size in sizes().items() if size != before[name]}
    assert changed == {}


def test_memory_stays_flat_over_hundreds_of_unique_large_contexts() -> None:
    """RSS plateaus: the second half of the requests adds little more than the cache bound."""
    bound = 4 * MB
    cache = PipelineCache(bound)
    requests = 240
    rss = []
    for seed in range(requests):
        build_prompt(_request(seed), PROFILE, cache=cache)
        if seed in (requests // 2, requests - 1):
            rss.append(process_rss_bytes() or 0)
    growth = rss[1] - rss[0]
    assert growth < bound + 8 * MB, f"RSS grew {growth / MB:.1f} MB over the second half"
