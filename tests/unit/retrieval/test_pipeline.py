"""build_prompt end to end: the public API the orchestrator's routes call."""

from __future__ import annotations

import json

import pytest
from cerebrum.retrieval import (
    Deadline,
    FimTokens,
    Message,
    ModelProfile,
    PipelineCache,
    PromptPlan,
    PromptRequest,
    PromptTooLarge,
    Snippet,
    build_prompt,
    estimate_tokens,
)
from cerebrum.retrieval.pipeline import STAGES

UTILS = '''import json


def load_config(path):
    """Read the JSON configuration file at path."""
    with open(path) as handle:
        return json.load(handle)


def save_config(path, config):
    with open(path, "w") as handle:
        json.dump(config, handle, indent=2)
'''

MAILER = """class Mailer:
    def __init__(self, host):
        self.host = host

    def send(self, message):
        connection = connect(self.host)
        connection.deliver(message)
        connection.close()
"""


def _plan(prompt: str, **kwargs: object) -> PromptPlan:
    profile = kwargs.pop("profile", ModelProfile(4096))
    assert isinstance(profile, ModelProfile)
    return build_prompt(PromptRequest(prompt, **kwargs), profile)  # type: ignore[arg-type]


def test_plain_prompt_passes_through_unchanged() -> None:
    plan = _plan("def fibonacci(n):", language="python")
    assert plan.prompt == "def fibonacci(n):"
    assert (plan.language, plan.intent, plan.symbols) == ("python", "complete", ("fibonacci",))
    assert plan.prompt_tokens == estimate_tokens("def fibonacci(n):")
    assert plan.budget_tokens == 4096 - 256 - 32


def test_relevant_context_is_used_and_placed_before_the_prompt() -> None:
    prompt = "settings = load_config('app.json')\nport = settings["
    plan = _plan(prompt, context=[Snippet(MAILER, "mailer.py"), Snippet(UTILS, "utils.py")])
    assert plan.prompt is not None
    assert plan.prompt.endswith(prompt)
    assert "# path: utils.py\n" in plan.prompt
    best = max(plan.chunks_used, key=lambda c: c.score)
    assert best.path == "utils.py"
    assert dict(best.score_parts)["defines"] == 0.5


def test_duplicate_snippets_are_reported_with_their_reason() -> None:
    context = [Snippet(UTILS, "old/utils.py"), Snippet(UTILS, "utils.py")]
    plan = _plan("load_config(", context=context)
    reasons = {(c.path, c.reason) for c in plan.chunks_dropped}
    assert ("old/utils.py", "duplicate") in reasons
    assert {c.path for c in plan.chunks_used} == {"utils.py"}


def test_context_already_in_the_prompt_is_dropped_as_in_prompt() -> None:
    plan = _plan(UTILS + "\n\ndef main():\n    ", context=[Snippet(UTILS, "utils.py")])
    assert plan.chunks_used == ()
    assert {c.reason for c in plan.chunks_dropped} == {"in-prompt"}


def test_chunks_beyond_the_budget_are_dropped_with_reason_budget() -> None:
    big = "\n\n".join(UTILS.replace("config", f"config{i}") for i in range(40))
    plan = _plan("load_config(", context=[Snippet(big, "big.py")], profile=ModelProfile(1200))
    assert plan.chunks_used
    assert any(c.reason == "budget" for c in plan.chunks_dropped)
    assert plan.prompt_tokens <= plan.budget_tokens == 1200 - 256 - 32


def test_chat_profile_returns_messages() -> None:
    plan = _plan(
        "why does load_config fail on an empty file?",
        context=[Snippet(UTILS, "utils.py")],
        history=[Message("system", "Be brief.")],
        profile=ModelProfile(4096, format="chat"),
    )
    assert plan.prompt is None
    assert plan.messages is not None
    assert [m.role for m in plan.messages] == ["system", "user"]
    assert plan.messages[0].content.startswith("Be brief.\n\nRelevant code")
    assert plan.intent == "explain"


def test_fim_profile_wraps_prompt_and_suffix() -> None:
    fim = FimTokens("<PRE>", "<SUF>", "<MID>")
    plan = _plan(
        "def area(r):\n    ",
        suffix="\nprint(area(2))",
        profile=ModelProfile(4096, format="fim", fim=fim),
    )
    assert plan.prompt == "<PRE>def area(r):\n    <SUF>\nprint(area(2))<MID>"


def test_prompt_too_large_is_raised_with_the_numbers() -> None:
    with pytest.raises(PromptTooLarge, match="max_tokens") as raised:
        _plan("x = 1\n" * 2000, profile=ModelProfile(2048))
    assert raised.value.budget_tokens == 2048 - 256 - 32
    assert raised.value.prompt_tokens > raised.value.budget_tokens


def test_summary_is_json_and_explains_every_listed_chunk() -> None:
    context = [
        Snippet(UTILS, "old/utils.py"),
        Snippet(UTILS, "utils.py"),
        Snippet(MAILER, "mailer.py"),
    ]
    plan = _plan("load_config(", context=context)
    summary = json.loads(json.dumps(plan.summary()))
    assert summary["chunks_used"] == len(plan.chunks_used)
    assert summary["chunks_dropped"] == len(plan.chunks_dropped)
    assert summary["dropped_by_reason"] == {"duplicate": len(plan.chunks_dropped)}
    first = summary["used"][0]
    assert set(first) == {"id", "path", "lines", "score", "score_parts", "reason"}
    assert first["reason"] is None
    assert summary["dropped"][0]["duplicate_of"] in {c["id"] for c in summary["used"]}


def test_chunk_ids_are_stable_across_requests() -> None:
    first = _plan("load_config(", context=[Snippet(UTILS, "utils.py")])
    second = _plan("save_config(", context=[Snippet(MAILER, "m.py"), Snippet(UTILS, "utils.py")])
    assert {c.id for c in first.chunks_used} <= {c.id for c in second.chunks_used}


def test_a_repeated_request_gives_the_same_plan_from_the_caches() -> None:
    cache = PipelineCache(8 << 20)
    request = PromptRequest(
        "settings = load_config(", context=[Snippet(MAILER, "m.py"), Snippet(UTILS, "u.py")]
    )
    cold = build_prompt(request, ModelProfile(4096), cache=cache)
    assert len(cache) > 0
    warm = build_prompt(request, ModelProfile(4096), cache=cache)
    assert warm == cold


def test_each_stage_is_reported_to_the_observer_in_order_as_it_ends() -> None:
    seen: list[str] = []
    request = PromptRequest("load_config(", context=[Snippet(UTILS, "utils.py")])
    build_prompt(request, ModelProfile(4096), on_stage=seen.append)
    assert seen == list(STAGES)


def test_context_stages_are_not_reported_when_the_deadline_leaves_the_context_out() -> None:
    seen: list[str] = []
    ticks = iter(range(1000))
    deadline = Deadline(1, clock=lambda: float(next(ticks)))  # spent at the first check
    request = PromptRequest("load_config(", context=[Snippet(UTILS, "utils.py")])
    plan = build_prompt(request, ModelProfile(4096), deadline=deadline, on_stage=seen.append)
    assert plan.context_skipped
    assert seen == ["budget", "parse", "assemble"]
