"""core/acceptance.py: accepted (whole, first line) or ignored, judged from the next /infill
of the same session, with the bodies llama.vim really sends.

``fim_body`` is llama.vim's ``s:fim_ctx_local`` (ggml-org/llama.vim, autoload/llama.vim) in
Python: the body's input_prefix, prompt and input_suffix for a buffer, a cursor and, for its
speculative request, the suggestion it asks after ("prev"). The text before the cursor is
taken from a body exactly as the usage middleware takes it (``before_cursor``).
"""

from __future__ import annotations

import json

from cerebrum.api.middleware.usage import before_cursor
from cerebrum.core.acceptance import CHAIN, Acceptance

N_PREFIX = 256


def fim_body(lines: list[str], pos_y: int, pos_x: int, prev: list[str] | None = None) -> bytes:
    """llama.vim's /infill body at line ``pos_y`` (1-based), column ``pos_x`` (0-based)."""
    if not prev:
        line_cur = lines[pos_y - 1]
        line_cur_prefix, line_cur_suffix = line_cur[:pos_x], line_cur[pos_x:]
        lines_prefix = lines[max(1, pos_y - N_PREFIX) - 1 : pos_y - 1]
        if not line_cur.strip():
            line_cur_prefix = line_cur_suffix = ""
    else:
        line_cur = lines[pos_y - 1] + prev[0] if len(prev) == 1 else prev[-1]
        line_cur_prefix, line_cur_suffix = line_cur, ""
        lines_prefix = lines[max(1, pos_y - N_PREFIX + len(prev) - 1) - 1 : pos_y - 1]
        if len(prev) > 1:
            lines_prefix = [*lines_prefix, lines[pos_y - 1] + prev[0], *prev[1:-1]]
    body = {
        "id_slot": 0,
        "input_prefix": "\n".join(lines_prefix) + "\n",
        "input_suffix": line_cur_suffix + "\n" + "\n".join(lines[pos_y:]) + "\n",
        "input_extra": [],
        "prompt": line_cur_prefix,
        "n_predict": 128,
        "stop": [],
        "n_indent": 0,
        "top_k": 40,
        "top_p": 0.90,
        "samplers": ["top_k", "top_p", "infill"],
        "stream": False,
        "cache_prompt": True,
        "t_max_prompt_ms": 500,
        "t_max_predict_ms": 250,
        "response_fields": ["content", "timings/prompt_n", "truncated", "tokens_cached"],
    }
    return json.dumps(body).encode()


def before(body: bytes) -> str:
    found = before_cursor(body)
    assert found is not None
    return found


BUFFER = ["import math", "", "def add(a, b):", "    return", "", "print(add(1, 2))"]
CONTENT = " a + b\n"  # what the server answers at the end of line 4
NEXT = "\n\ndef sub(a, b):\n    return a - b\n"  # its answer to the speculative request


class Session:
    """One editor session as llama.vim drives it: a request, then its speculative one."""

    def __init__(self) -> None:
        self.acceptance = Acceptance()
        self.verdicts: list[str] = []

    def answer(self, body: bytes, content: str) -> None:
        found = self.acceptance.observe("s1", before(body), content, "alice", "smol-fim")
        self.verdicts += [verdict for _, verdict in found]

    def shown_and_speculated(self) -> None:
        self.answer(fim_body(BUFFER, 4, 10), CONTENT)  # cursor after "    return"
        self.answer(fim_body(BUFFER, 4, 10, prev=[" a + b"]), NEXT)


def test_the_speculative_request_after_a_suggestion_is_not_taken_for_an_accept():
    session = Session()
    session.shown_and_speculated()
    assert session.verdicts == []


def test_tab_accepts_the_whole_suggestion_and_the_next_keystroke_shows_it():
    session = Session()
    session.shown_and_speculated()
    accepted = [*BUFFER[:3], "    return a + b", "p", *BUFFER[5:]]  # Tab, Enter, then "p"
    session.answer(fim_body(accepted, 5, 1), "rint(add(1, 2))")
    # the suggestion shown after the accept (the speculative one) was not taken: "p" instead
    assert session.verdicts == ["whole", "ignored"]


def test_typing_something_else_ignores_it_and_the_speculative_one_was_never_shown():
    session = Session()
    session.shown_and_speculated()
    typed = [*BUFFER[:3], "    return a", *BUFFER[4:]]  # typed " a" by hand: not the suggestion
    session.answer(fim_body(typed, 4, 12), " + b")
    assert session.verdicts == ["ignored"]


def test_shift_tab_accepts_the_first_line_of_a_multi_line_suggestion():
    session = Session()
    content = " a + b\n\nprint(add(3, 4))\n"
    session.answer(fim_body(BUFFER, 4, 10), content)
    session.answer(fim_body(BUFFER, 4, 10, prev=[" a + b", "", "print(add(3, 4))"]), "")
    # Shift-Tab: the first line, then llama.vim feeds <CR>: a new, empty line under it
    after = [*BUFFER[:3], "    return a + b", "", *BUFFER[4:]]
    session.answer(fim_body(after, 5, 0), "x = 1")
    assert session.verdicts == ["line"]


def test_tab_on_a_multi_line_suggestion_then_the_next_one_accepted_too():
    session = Session()
    session.shown_and_speculated()
    accepted = [*BUFFER[:3], "    return a + b", "", "def sub(a, b):", "    return a - b"]
    accepted += [" ", *BUFFER[4:]]  # Tab, Tab (NEXT), then a space on a new line
    session.answer(fim_body(accepted, 8, 1), "")
    assert session.verdicts == ["whole", "whole"]


def test_the_word_accept_counts_as_ignored():
    session = Session()
    session.answer(fim_body(BUFFER, 4, 10), " a_plus_b(a, b)\n")
    word = [*BUFFER[:3], "    return a_plus_b(a,", *BUFFER[4:]]  # Ctrl-B: " a_plus_b(a,"
    session.answer(fim_body(word, 4, 22), "")
    assert session.verdicts == ["ignored"]


def test_warm_ups_and_several_completions_are_not_judged():
    warm = json.loads(fim_body(BUFFER, 4, 10))
    assert before_cursor(json.dumps({**warm, "n_predict": 0}).encode()) is None
    assert before_cursor(json.dumps({**warm, "n_cmpl": 3}).encode()) is None
    assert before_cursor(b"[1, 2]") is None
    assert before_cursor(b"{not json") is None


def test_sessions_are_remembered_up_to_the_capacity_least_recent_first_out():
    acceptance = Acceptance(capacity=2)
    for name in ("a", "b", "c"):
        acceptance.observe(name, "x = ", "1", "k", "m")
    assert len(acceptance) == 2
    assert acceptance.observe("a", "x = 1\n", "", "k", "m") == []  # "a" was forgotten
    assert [v for _, v in acceptance.observe("c", "x = 1\n", "", "k", "m")] == ["whole"]


def test_a_session_s_chain_of_pending_suggestions_is_bounded():
    acceptance = Acceptance()
    text, judged = "x =", []
    for n in range(CHAIN + 3):  # each asked as if the one before were accepted
        judged.append(acceptance.observe("s", text, f" {n}", "k", "m"))
        text += f" {n}"
    judged.append(acceptance.observe("s", text + "\n", "", "k", "m"))
    assert max(len(verdicts) for verdicts in judged) == CHAIN
