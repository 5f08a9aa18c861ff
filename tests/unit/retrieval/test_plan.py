"""retrieval/plan.py: the account of what the pipeline did, and the prompt-too-large error."""

from __future__ import annotations

import json

from cerebrum.retrieval import ChunkReport, PromptPlan, PromptTooLarge


def chunk(name: str, score: float = 0.0, reason: str | None = None, **more: object) -> ChunkReport:
    return ChunkReport(name, f"{name}.py", 1, 9, score, reason=reason, **more)  # type: ignore[arg-type]


def plan(used: tuple[ChunkReport, ...] = (), dropped: tuple[ChunkReport, ...] = ()) -> PromptPlan:
    return PromptPlan("p", None, "python", "complete", ("f",), 10, 100, used, dropped)


def test_a_used_chunk_is_summarised_with_its_rounded_score_parts_and_no_reason():
    used = ChunkReport("a", "a.py", 3, 7, 0.123456, (("bm25", 0.987654),))
    assert used.summary() == {
        "id": "a", "path": "a.py", "lines": [3, 7], "score": 0.1235,
        "score_parts": {"bm25": 0.9877}, "reason": None,
    }  # fmt: skip


def test_only_a_duplicate_names_the_chunk_it_repeats():
    assert chunk("b", reason="duplicate", duplicate_of="a").summary()["duplicate_of"] == "a"
    assert "duplicate_of" not in chunk("c", reason="budget").summary()


def test_the_dropped_list_is_capped_keeping_the_best_scores():
    dropped = tuple(chunk(f"d{score}", score, "budget") for score in (0.1, 0.9, 0.5, 0.7))
    summary = plan(dropped=dropped).summary(max_dropped=2)
    assert [c["id"] for c in summary["dropped"]] == ["d0.9", "d0.7"]  # type: ignore[union-attr]
    assert summary["chunks_dropped"] == 4


def test_every_dropped_chunk_is_counted_under_its_reason():
    dropped = (
        chunk("a", reason="duplicate"),
        chunk("b", reason="budget"),
        chunk("c", reason="budget"),
    )
    assert plan(dropped=dropped).summary(max_dropped=1)["dropped_by_reason"] == {
        "duplicate": 1,
        "budget": 2,
    }


def test_the_summary_is_json():
    summary = plan(used=(chunk("a", 1.0),), dropped=(chunk("b", reason="in-prompt"),)).summary()
    assert json.loads(json.dumps(summary)) == summary


def test_prompt_too_large_says_what_to_change_with_the_numbers():
    error = PromptTooLarge(
        prompt_tokens=3000, budget_tokens=1760, max_tokens=256, context_size=2048
    )
    message = str(error)
    assert "3000 tokens but only 1760 are available" in message
    assert "shorten the prompt or lower max_tokens" in message


def test_a_budget_below_zero_is_shown_as_none_available():
    error = PromptTooLarge(prompt_tokens=10, budget_tokens=-50, max_tokens=4096, context_size=2048)
    assert "only 0 are available" in str(error)
