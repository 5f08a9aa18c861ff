"""The assembler: fill the budget with the best chunks, formatted per model, never over."""

from __future__ import annotations

import random
import string
from dataclasses import replace

import pytest
from cerebrum.retrieval import FimTokens, Message, ModelProfile, PromptTooLarge, estimate_tokens
from cerebrum.retrieval.assembler import (
    OUTLINE_PART,
    TURN_OVERHEAD,
    Assembly,
    assemble,
    outline,
)
from cerebrum.retrieval.chunker import Chunk, chunk_id, normalize
from cerebrum.retrieval.ranker import Ranked
from cerebrum.retrieval.tokens import TokenCounter

QWEN_FIM = FimTokens("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
QWEN_REPO_FIM = FimTokens("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>")


def _ranked(text: str, score: float, path: str | None = "lib.py") -> Ranked:
    normalized = normalize(text)
    chunk = Chunk(
        id=chunk_id(path, normalized),
        path=path,
        start_line=1,
        end_line=text.count("\n") + 1,
        text=text,
        snippet_index=0,
        language="python",
        normalized=normalized,
    )
    return Ranked(chunk, score, (("bm25", score),))


BEST = _ranked("def best():\n    return 'best'", 0.9, "best.py")
SECOND = _ranked("def second():\n    return 'second'", 0.5, "second.py")


def _chat_tokens(assembly: Assembly) -> int:
    assert assembly.messages is not None
    return sum(estimate_tokens(m.content) + TURN_OVERHEAD for m in assembly.messages)


def test_completion_puts_commented_sections_before_the_prompt_in_request_order() -> None:
    first = _ranked("def first():\n    return 1", 0.2, "first.py")
    result = assemble("def main():", [BEST, SECOND, first], ModelProfile(2048), 256, "python")
    # the rank decides which chunks go in; where they go is the order of the request
    # (snippet, then line): BEST and SECOND come from snippet 0, first from snippet 0 too,
    # so the order is the order of their ids' insertion: by (snippet, line), stable
    assert result.prompt is not None
    assert result.prompt.endswith("def main():")
    assert [r.chunk.path for r in result.used] == ["best.py", "second.py", "first.py"]
    assert result.prompt.index("# path: best.py") < result.prompt.index("# path: second.py")


def test_completion_without_chunks_is_the_prompt_unchanged() -> None:
    result = assemble("def fibonacci(n):", [], ModelProfile(2048), 256, "python")
    assert result.prompt == "def fibonacci(n):"
    assert result.prompt_tokens == estimate_tokens("def fibonacci(n):")


def test_section_headers_use_the_chunks_comment_syntax_else_the_requests() -> None:
    result = assemble("int main() {", [BEST], ModelProfile(2048), 256, "c")
    assert result.prompt is not None
    assert result.prompt.startswith("# path: best.py\n")  # a Python chunk: '#' whatever asks
    unknown = _ranked("x", 0.5, "notes")
    unknown = Ranked(replace(unknown.chunk, language=None), 0.5, ())
    c = assemble("int main() {", [unknown], ModelProfile(2048), 256, "c")
    assert c.prompt is not None
    assert c.prompt.startswith("// path: notes\n")
    html = assemble("<div>", [unknown], ModelProfile(2048), 256, "html")
    assert html.prompt is not None
    assert html.prompt.startswith("<!-- path: notes -->\n")


def test_chunks_that_do_not_fit_are_reported_over_budget() -> None:
    big = _ranked("\n".join(f"line_{i} = {i}" for i in range(200)), 0.95, "big.py")
    result = assemble("x", [big, BEST], ModelProfile(300, margin_tokens=0), 100, "python")
    assert result.used == (BEST,)
    assert result.over_budget == (big,)


def test_budget_is_context_minus_max_tokens_minus_margin() -> None:
    result = assemble("x", [], ModelProfile(1000, margin_tokens=40), 300)
    assert result.budget_tokens == 660


def test_prompt_too_large_names_prompt_and_max_tokens() -> None:
    with pytest.raises(PromptTooLarge) as raised:
        assemble("word " * 500, [BEST], ModelProfile(512), 256)
    message = str(raised.value)
    assert "`prompt`" in message
    assert "`max_tokens`" in message
    assert "512" in message
    assert raised.value.budget_tokens == 512 - 256 - 32


def test_max_tokens_beyond_the_context_is_prompt_too_large() -> None:
    with pytest.raises(PromptTooLarge):
        assemble("x", [], ModelProfile(512), 600)


def test_negative_max_tokens_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        assemble("x", [], ModelProfile(512), -1)


def test_fim_wraps_context_and_prompt_in_prefix_and_suffix_in_suffix() -> None:
    profile = ModelProfile(2048, format="fim", fim=QWEN_FIM)
    result = assemble("def f():\n    ", [BEST], profile, 64, "python", suffix="\nprint(f())")
    assert result.prompt == (
        "<|fim_prefix|># path: best.py\ndef best():\n    return 'best'\n\n"
        "def f():\n    <|fim_suffix|>\nprint(f())<|fim_middle|>"
    )


def test_fim_with_file_separator_puts_context_files_before_the_prefix() -> None:
    profile = ModelProfile(2048, format="fim", fim=QWEN_REPO_FIM)
    result = assemble("x = ", [BEST], profile, 64, "python", suffix="")
    assert result.prompt == (  # as llama-server's /infill writes it
        "<|file_sep|>best.py\ndef best():\n    return 'best'\n"
        "<|file_sep|>filename\n<|fim_prefix|>x = <|fim_suffix|><|fim_middle|>"
    )
    repo = replace(QWEN_REPO_FIM, repo_name="<|repo_name|>")
    with_repo = assemble("x = ", [BEST], ModelProfile(2048, format="fim", fim=repo), 64)
    assert with_repo.prompt is not None
    assert with_repo.prompt.startswith("<|repo_name|>myproject\n<|file_sep|>best.py\n")


def test_fim_suffix_is_cut_from_its_far_end_to_fit() -> None:
    profile = ModelProfile(200, format="fim", fim=QWEN_FIM, margin_tokens=0)
    suffix = "".join(f"\nline_{i} = {i}" for i in range(100))
    result = assemble("x = ", [], profile, 50, "python", suffix=suffix)
    assert result.suffix_truncated
    assert result.prompt is not None
    assert "\nline_0 = 0" in result.prompt
    assert "line_99" not in result.prompt
    assert result.prompt_tokens <= result.budget_tokens


def test_profile_with_fim_format_needs_fim_tokens() -> None:
    with pytest.raises(ValueError, match="FIM tokens"):
        ModelProfile(2048, format="fim")


def test_chat_puts_context_in_a_system_message_then_history_then_prompt() -> None:
    history = [Message("user", "hi"), Message("assistant", "hello")]
    result = assemble(
        "explain best()", [BEST], ModelProfile(2048, format="chat"), 256, "python", history=history
    )
    assert result.prompt is None
    assert result.messages is not None
    system, *turns, last = result.messages
    assert system.role == "system"
    assert "best.py:\n```python\ndef best():" in system.content
    assert turns == history
    assert last == Message("user", "explain best()")


def test_chat_merges_client_system_turns_before_the_context() -> None:
    history = [Message("system", "Answer briefly."), Message("user", "hi")]
    result = assemble("q", [BEST], ModelProfile(2048, format="chat"), 256, history=history)
    assert result.messages is not None
    assert result.messages[0].content.startswith("Answer briefly.\n\nRelevant code")
    assert [m.role for m in result.messages] == ["system", "user", "user"]


def test_chat_without_context_or_system_turns_has_no_system_message() -> None:
    result = assemble("hello", [], ModelProfile(2048, format="chat"), 256)
    assert result.messages == (Message("user", "hello"),)


def test_chat_drops_oldest_turns_first_and_starts_with_a_user_turn() -> None:
    long = "word " * 60
    history = [
        Message("user", long),
        Message("assistant", long),
        Message("user", "recent question"),
        Message("assistant", "recent answer"),
    ]
    profile = ModelProfile(200, format="chat", margin_tokens=0)
    result = assemble("q", [], profile, 80, history=history)
    assert result.history_dropped == 2
    assert result.messages == (*history[2:], Message("user", "q"))
    assert _chat_tokens(result) <= result.budget_tokens


def test_chat_prompt_too_large_after_dropping_all_history() -> None:
    with pytest.raises(PromptTooLarge):
        assemble(
            "word " * 300, [], ModelProfile(256, format="chat"), 64, history=[Message("user", "x")]
        )


def _random_text(rng: random.Random, size: int) -> str:
    alphabet = string.ascii_letters + string.digits + "    \n\n\t_(){}[]:;.,=+-*/'\"é中😀"
    return "".join(rng.choices(alphabet, k=size))


def _whole_of(used: Ranked, chunks: list[Ranked]) -> Ranked:
    """The ranked chunk that `used` is, or is the outline of."""
    if used.parts[-1:] != ((OUTLINE_PART, 0.0),):
        return used
    chunk = used.chunk
    return next(
        r
        for r in chunks
        if (r.chunk.path, r.chunk.start_line, r.chunk.end_line, r.score, r.parts)
        == (chunk.path, chunk.start_line, chunk.end_line, used.score, used.parts[:-1])
    )


def test_never_exceeds_the_budget_on_random_inputs() -> None:
    rng = random.Random(2024)
    outcomes: list[str] = []
    for case in range(400):
        fmt = rng.choice(["completion", "chat", "fim"])
        fim = rng.choice([QWEN_FIM, QWEN_REPO_FIM]) if fmt == "fim" else None
        profile = ModelProfile(
            rng.randint(64, 3000), format=fmt, fim=fim, margin_tokens=rng.randint(0, 64)
        )
        max_tokens = rng.randint(0, 512)
        chunks = [
            _ranked(
                _random_text(rng, rng.randint(1, 1500)),
                rng.random(),
                rng.choice([None, "a.py", "b/c.ts"]),
            )
            for _ in range(rng.randint(0, 30))
        ]
        chunks.sort(key=lambda r: -r.score)
        history = [
            Message(
                rng.choice(["user", "assistant", "system"]), _random_text(rng, rng.randint(0, 400))
            )
            for _ in range(rng.randint(0, 6))
        ]
        prompt = _random_text(rng, rng.randint(0, 800))
        suffix = _random_text(rng, rng.randint(0, 800))
        language = rng.choice([None, "python", "c", "html"])
        try:
            result = assemble(prompt, chunks, profile, max_tokens, language, suffix, history)
        except PromptTooLarge as error:
            too_large = error
        else:
            too_large = None
        if too_large is not None:
            outcomes.append("too large")
            # Raised only when the request's own text does not fit, and it says by how much.
            assert too_large.prompt_tokens >= estimate_tokens(prompt), case
            assert too_large.prompt_tokens > too_large.budget_tokens, case
            continue
        outcomes.append("with chunks" if result.used else "without chunks")
        used = result.prompt_tokens
        assert used <= result.budget_tokens, case
        if result.prompt is not None:
            assert estimate_tokens(result.prompt) <= used, case  # the parts' sum bounds it
            assert prompt in result.prompt, case
        else:
            assert _chat_tokens(result) == used, case
            assert result.messages is not None
            assert result.messages[-1] == Message("user", prompt)
        whole = {_whole_of(r, chunks) for r in result.used}
        assert whole | set(result.over_budget) == set(chunks), case
        assert not whole & set(result.over_budget), case
    assert min(outcomes.count(kind) for kind in ("too large", "with chunks")) >= 40, outcomes


# --- editors: a prompt that keeps the backend's cache warm ---------------------------------


def _file(name: str, score: float, index: int) -> Ranked:
    text = "\n".join(f"def {name}_{i}(x):\n    return x + {i}" for i in range(6))
    ranked = _ranked(text, score, f"{name}.py")
    return Ranked(replace(ranked.chunk, snippet_index=index), score, ranked.parts)


FILES = [_file(name, score, i) for i, (name, score) in enumerate([("a", 0.9), ("b", 0.1),
         ("c", 0.5), ("d", 0.7)])]  # fmt: skip
PROFILE = ModelProfile(2048, format="fim", fim=QWEN_REPO_FIM)


def _paths(result: Assembly) -> list[str | None]:
    return [r.chunk.path for r in result.used]


def test_the_chunks_of_the_previous_prompt_keep_their_place_and_new_ones_follow() -> None:
    layout = [FILES[3].chunk.id, FILES[1].chunk.id]  # d then b, as the previous prompt had them
    result = assemble("x = ", FILES, PROFILE, 64, layout=layout)
    assert _paths(result) == ["d.py", "b.py", "a.py", "c.py"]
    assert result.prompt is not None
    sections = [result.prompt.index(f"<|file_sep|>{p}") for p in _paths(result)]
    assert sections == sorted(sections)


def test_consecutive_keystrokes_share_the_prompt_up_to_the_cursor() -> None:
    first = assemble("def f(x):\n    ret", FILES, PROFILE, 64, suffix="\n")
    layout = [r.chunk.id for r in first.used]
    second = assemble("def f(x):\n    retur", FILES[::-1], PROFILE, 64, suffix="\n", layout=layout)
    assert first.prompt is not None
    assert second.prompt is not None
    shared = first.prompt.index("def f(x):\n    ret") + len("def f(x):\n    ret")
    assert second.prompt[:shared] == first.prompt[:shared]


def test_suffix_first_keeps_the_context_first_and_the_prefix_last() -> None:
    spm = ModelProfile(2048, format="fim", fim=replace(QWEN_REPO_FIM, order="spm"))
    result = assemble("x = ", [BEST], spm, 64, "python", suffix="\nprint(x)")
    assert result.prompt == (  # as llama-server's /infill writes it with --spm-infill
        "<|file_sep|>best.py\ndef best():\n    return 'best'\n"
        "<|file_sep|>filename\n<|fim_suffix|>\nprint(x)<|fim_prefix|>x = <|fim_middle|>"
    )
    plain = assemble("x = ", [BEST], replace(spm, fim=replace(QWEN_FIM, order="spm")), 64)
    assert plain.prompt == (  # no file separator: the context is the prefix's start
        "<|fim_suffix|><|fim_prefix|># path: best.py\ndef best():\n    return 'best'\n\n"
        "x = <|fim_middle|>"
    )


def test_suffix_first_keystrokes_differ_only_in_what_was_typed() -> None:
    """Suffix first, consecutive keystrokes share everything up to the cursor: what the
    backend re-processes is what was typed, however long the suffix."""
    spm = replace(PROFILE, fim=replace(PROFILE.fim, order="spm"))
    suffix = "".join(f"\n    line_{i} = {i}" for i in range(40))
    first = assemble("def f(x):\n    ret", FILES, spm, 64, suffix=suffix)
    layout = [r.chunk.id for r in first.used]
    second = assemble("def f(x):\n    retur", FILES, spm, 64, suffix=suffix, layout=layout)
    assert first.prompt is not None
    assert second.prompt is not None
    shared = len(first.prompt) - len("<|fim_middle|>")
    assert second.prompt[:shared] == first.prompt[:shared]
    assert second.prompt[shared:] == "ur<|fim_middle|>"


def test_prefix_first_a_suffix_cap_bounds_what_a_keystroke_re_reads() -> None:
    """Prefix first, a keystroke re-reads everything after what was typed: the suffix. With
    `max_suffix_tokens` that is its first whole lines within the cap, the same each time."""
    suffix = "".join(f"\n    line_{i} = {i}" for i in range(40))
    capped = replace(PROFILE, fim=replace(PROFILE.fim, max_suffix_tokens=24))
    re_read = {}
    for name, profile in (("whole", PROFILE), ("capped", capped)):
        first = assemble("def f(x):\n    ret", FILES, profile, 64, suffix=suffix)
        layout = [r.chunk.id for r in first.used]
        second = assemble("def f(x):\n    retur", FILES, profile, 64, suffix=suffix, layout=layout)
        assert first.prompt is not None
        assert second.prompt is not None
        shared = second.prompt.index("<|fim_prefix|>") + len("<|fim_prefix|>def f(x):\n    ret")
        assert second.prompt[:shared] == first.prompt[:shared]
        re_read[name] = estimate_tokens(second.prompt[shared:])
        assert second.suffix_truncated is (name == "capped")
    kept = second.prompt.split("<|fim_suffix|>")[1].removesuffix("<|fim_middle|>")
    assert suffix.startswith(kept)
    assert kept.count("\n") == len(kept.splitlines())  # whole lines
    assert 0 < estimate_tokens(kept) <= 24
    assert re_read["capped"] <= 24 + estimate_tokens("ur<|fim_suffix|><|fim_middle|>")
    assert re_read["whole"] > 4 * re_read["capped"]


def test_an_incumbent_keeps_its_place_and_newcomers_get_the_room_left() -> None:
    section = estimate_tokens(f"# path: a.py\n{FILES[0].chunk.text}\n\n")
    tight = ModelProfile(section * 2 + 8, margin_tokens=0)
    higher = Ranked(FILES[2].chunk, 1.5, ())  # c, far above d (0.7)
    fresh = assemble("x", [FILES[0], higher, FILES[3]], tight, 0)
    assert {"a.py", "c.py"} <= set(_paths(fresh))  # the best two (d at most as its outline)
    kept = assemble("x", [FILES[0], higher, FILES[3]], tight, 0, layout=[FILES[3].chunk.id])
    assert _paths(kept) == ["d.py", "c.py"]  # d stays first; the best newcomer takes the rest
    roomy = assemble("x", [FILES[0], higher, FILES[3]], PROFILE, 0, layout=[FILES[3].chunk.id])
    assert _paths(roomy) == ["d.py", "a.py", "c.py"]  # newcomers after it, in request order


def test_a_reserve_keeps_room_for_the_next_request() -> None:
    whole = assemble("", FILES, PROFILE, 0)
    reserve = whole.prompt_tokens // 2
    reserved = assemble("", FILES, PROFILE, 0, reserve=whole.budget_tokens - reserve)
    assert 0 < len(reserved.used) < len(whole.used)
    assert reserved.prompt_tokens <= reserve


def test_a_trimmed_prompt_keeps_its_end_and_its_start_moves_in_steps() -> None:
    lines = [f"value_{i} = compute({i})\n" for i in range(400)]
    small = ModelProfile(1024, format="fim", fim=QWEN_REPO_FIM, margin_tokens=0)
    with pytest.raises(PromptTooLarge):
        assemble("".join(lines), [], small, 64)
    typed = [assemble("".join(lines) + "res" + "ult"[:n], [], small, 64, trim=True) for n in
             range(4)]  # fmt: skip
    for result in typed:
        assert result.prompt is not None
        assert result.prompt_tokens <= result.budget_tokens
        assert "value_399 = compute(399)\nres" in result.prompt
    starts = {r.prompt.split("<|fim_prefix|>")[1][:20] for r in typed if r.prompt}
    assert len(starts) == 1  # typing on the last line does not move the start


def test_exact_counts_replace_the_estimate_for_the_parts_they_cover() -> None:
    counter = TokenCounter()
    estimated = assemble("x = ", FILES, PROFILE, 64, count=counter)
    assert len(counter.estimated) == len(FILES) + 1  # the sections and the prompt
    exact = dict.fromkeys(counter.estimated, 10)  # say the tokenizer counts 10 each
    result = assemble("x = ", FILES, PROFILE, 64, count=TokenCounter(exact=exact))
    assert result.prompt == estimated.prompt
    saved = sum(counter(text) - 10 for text in counter.estimated.values())
    assert result.prompt_tokens == estimated.prompt_tokens - saved


def test_a_shorter_budget_drops_the_previous_prompts_last_chunks_keeping_its_start() -> None:
    warm = assemble("", FILES, PROFILE, 0)  # a warm-up: the whole budget for the context
    layout = [r.chunk.id for r in warm.used]
    section = estimate_tokens(f"<|file_sep|>a.py\n{FILES[0].chunk.text}\n")
    short = ModelProfile(warm.prompt_tokens - section, format="fim", fim=QWEN_REPO_FIM)
    completion = assemble("x = 1", FILES[::-1], short, 0, layout=layout)
    assert [r.chunk.id for r in completion.used] == layout[: len(completion.used)]
    assert 0 < len(completion.used) < len(layout)


def _long_body(name: str) -> str:
    body = "".join(f"    value_{n} = compute(value_{n - 1}, {n})\n" for n in range(1, 40))
    return f"def {name}(value_0):\n{body}    return value_39\n"


def test_a_chunk_too_large_for_the_room_goes_in_as_its_definition_lines() -> None:
    first = _ranked(_long_body("first") + "\n" + _long_body("other"), 0.9, "a.py")
    second = _ranked(_long_body("second") + "\n" + _long_body("third"), 0.5, "b.py")
    whole = estimate_tokens(first.chunk.text)
    profile = ModelProfile(context_size=whole + 64 + 32, margin_tokens=32)
    result = assemble("x = ", [first, second], profile, max_tokens=64)
    assert result.prompt is not None
    assert "def first(value_0):\ndef other(value_0):\n" in result.prompt
    assert "value_1 = compute" not in result.prompt
    assert "def second(value_0):\ndef third(value_0):\n" in result.prompt  # and this one's
    assert [r.parts[-1] for r in result.used] == [(OUTLINE_PART, 0.0)] * 2


def test_a_chunk_that_fits_goes_in_whole() -> None:
    chunk = _ranked(_long_body("first"), 0.9, "a.py")
    result = assemble("x = ", [chunk], ModelProfile(context_size=8192), max_tokens=64)
    assert result.used == (chunk,)
    assert result.prompt is not None
    assert chunk.chunk.text in result.prompt


def test_definitions_of_every_chunk_go_in_first_then_the_best_bodies() -> None:
    names = ("first", "second", "third")
    chunks = [_ranked(_long_body(name), 0.9 - i / 10, f"{name}.py") for i, name in enumerate(names)]
    whole = estimate_tokens(chunks[0].chunk.text)
    profile = ModelProfile(context_size=whole * 3 // 2 + 64, margin_tokens=0)
    result = assemble("x = ", chunks, profile, max_tokens=64)
    assert result.prompt is not None
    for name in names:  # room for one body: every chunk's definition line is in
        assert f"def {name}(value_0):\n" in result.prompt
    assert chunks[0].chunk.text in result.prompt  # the best one whole
    assert [r.parts[-1] == (OUTLINE_PART, 0.0) for r in result.used] == [False, True, True]
    assert result.prompt_tokens <= result.budget_tokens


def test_a_body_that_would_leave_no_room_for_the_others_definitions_stays_out() -> None:
    names = ("first", "second", "third")
    chunks = [_ranked(_long_body(name), 0.9 - i / 10, f"{name}.py") for i, name in enumerate(names)]
    whole = estimate_tokens(f"# path: first.py\n{chunks[0].chunk.text}\n\n")
    line = estimate_tokens("# path: second.py\ndef second(value_0):\n\n\n")
    room = whole + line + estimate_tokens("x = ")
    profile = ModelProfile(context_size=room + 64, margin_tokens=0)
    result = assemble("x = ", chunks, profile, max_tokens=64)
    assert result.prompt is not None
    for name in names:  # the best body alone would fit, but then one definition would not
        assert f"def {name}(value_0):\n" in result.prompt
    assert "value_1 = compute" not in result.prompt


def test_an_outline_leaves_out_the_lines_the_prompt_already_holds() -> None:
    chunk = _ranked(_long_body("first") + "\n" + _long_body("other"), 0.9, "a.py")
    short = outline(chunk, {"def first(value_0):\n"})
    assert short is not None
    assert short.chunk.text == "def other(value_0):\n"
    assert outline(chunk, {"def first(value_0):\n", "def other(value_0):\n"}) is None
    whole = estimate_tokens(chunk.chunk.text)
    profile = ModelProfile(context_size=whole // 2 + 64, margin_tokens=0)
    result = assemble("def first(value_0):\n    pass\nx = ", [chunk], profile, max_tokens=64)
    assert result.prompt is not None
    assert result.prompt.count("def first(value_0):") == 1  # the prompt's own
    assert "def other(value_0):\n" in result.prompt


def _many_definitions(name: str) -> str:
    return "".join(f"def {name}_{n}(x):\n    return x\n" for n in range(40))


def test_the_best_chunk_goes_in_whole_first_when_it_takes_at_most_half_the_room() -> None:
    best = _ranked(_long_body("best"), 0.9, "best.py")
    others = [_ranked(_many_definitions(f"o{i}"), 0.5 - i / 100, f"o{i}.py") for i in range(10)]
    whole = estimate_tokens(f"# path: best.py\n{best.chunk.text}\n\n")
    profile = ModelProfile(context_size=whole * 9 // 4 + 64 + 8, margin_tokens=0)
    result = assemble("x = ", [best, *others], profile, max_tokens=64)
    assert result.prompt is not None
    assert best.chunk.text in result.prompt  # whole, though the others' outlines fill the rest
    assert any(r.parts[-1] == (OUTLINE_PART, 0.0) for r in result.used)
    assert result.prompt_tokens <= result.budget_tokens
