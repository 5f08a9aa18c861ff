"""The instruction parser: language, intent and symbols of a request."""

from __future__ import annotations

import pytest
from cerebrum.retrieval.instruction_parser import (
    detect_intent,
    detect_language,
    extract_symbols,
    parse_instruction,
)

# --- language ---------------------------------------------------------------------------


def test_explicit_language_wins_over_everything() -> None:
    prompt = "```rust\nfn main() {}\n```"
    assert detect_language(prompt, "Python", [("a.go", "")]) == "python"


def test_explicit_language_aliases_are_normalised() -> None:
    assert detect_language("x", "c++") == "cpp"
    assert detect_language("x", "JS") == "javascript"


def test_code_fence_language_wins_over_shebang_and_paths() -> None:
    prompt = "#!/bin/bash\nexplain this:\n```ts\nconst x: number = 1\n```"
    assert detect_language(prompt, None, [("main.py", "")]) == "typescript"


def test_shebang_names_the_language() -> None:
    assert detect_language("#!/usr/bin/env python3\nimport os\n") == "python"
    assert detect_language("#!/bin/sh\necho hi\n") == "shell"


def test_an_interpreter_or_runtime_names_its_language() -> None:
    assert detect_language("#!/usr/bin/env nodejs\nx\n") == "javascript"
    assert detect_language("#!/usr/bin/make -f\nall:\n") == "make"
    assert detect_language("#!/usr/bin/python3.12\nx\n") == "python"
    assert detect_language("x", "Node.js") == "javascript"
    assert detect_language("write a server in Node.js") == "javascript"


def test_language_named_in_the_instruction_wins_over_context_paths() -> None:
    assert detect_language("write a quicksort in Rust", None, [("a.py", "")]) == "rust"


def test_context_paths_vote_with_ties_going_to_the_latest() -> None:
    assert detect_language("x = 1", None, [("a.ts", ""), ("b.py", ""), ("c.py", "")]) == "python"
    assert detect_language("x = 1", None, [("a.go", ""), ("b.rs", "")]) == "rust"


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("def parse(line):\n    return line.split()", "python"),
        ("if x is None:", "python"),
        ("fn main() {\n    let mut v = Vec::new();", "rust"),
        ("package main\n\nfunc main() {", "go"),
        ("#include <stdio.h>\nint main(void) {", "c"),
        ("#include <vector>\nstd::vector<int> v;", "cpp"),
        ("public class Greeter {\n    public static void main(String[] args) {", "java"),
        ("const add = (a, b) => a + b;", "javascript"),
        ("interface User { name: string }", "typescript"),
        ("<?php echo $this->name;", "php"),
    ],
)
def test_syntax_cues_name_the_language(prompt: str, language: str) -> None:
    assert detect_language(prompt) == language


def test_prose_without_code_has_no_language() -> None:
    assert detect_language("write a function that reverses a string") is None


def test_unnamed_snippet_cues_are_the_last_resort() -> None:
    assert detect_language("continue", None, [(None, "def f(x):\n    return x\n")]) == "python"


# --- intent -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "intent"),
    [
        ("def fibonacci(n):", "complete"),
        ("import os\nimport sys\n", "complete"),
        ("# add two numbers\ndef add(a, b):", "complete"),
        ("write a function that reverses a string", "generate"),
        ("Please write a test for parse_args()", "generate"),
        ("a python function computing primes", "generate"),
        ("# write a function that adds two numbers", "generate"),
        ("explain `parse_config`", "explain"),
        ("Why does this raise a KeyError?\n```python\nd = {}\nd[1]\n```", "explain"),
        ("what does this do?\nfor i in range(10):\n    print(i)", "explain"),
        ("fix this:\ndef f(x):\n    retrun x", "fix"),
        ("This code has a bug in loadUserData", "fix"),
        ("I get a TypeError when I call it", "fix"),
    ],
)
def test_intent(prompt: str, intent: str) -> None:
    assert detect_intent(prompt) == intent


def test_an_unclosed_fence_is_code_being_written() -> None:
    assert detect_intent("here is my code\n```python\ndef f(") == "complete"


def test_the_leading_verb_decides_over_later_keywords() -> None:
    assert detect_intent("write a test that fails with an error") == "generate"


def test_empty_prompt_is_completion() -> None:
    assert detect_intent("") == "complete"


# --- symbols ----------------------------------------------------------------------------


def test_backticked_names_come_first() -> None:
    symbols = extract_symbols("why does `load_user` call fetch(url) here?\nx = fetch(url)")
    assert symbols[0] == "load_user"


def test_defined_and_called_identifiers_are_symbols_nearest_the_end_first() -> None:
    symbols = extract_symbols("def handler(event):\n    data = parse_body(event)\n    return")
    assert symbols[:2] == ("parse_body", "handler")


def test_every_definition_keyword_defines_a_symbol() -> None:
    assert extract_symbols("namespace geometry {\nunion value {\n") == ("value", "geometry")


def test_numbers_in_backticks_are_not_symbols() -> None:
    assert extract_symbols("why is `0xFF` wrong but `mask_bits` right") == ("mask_bits",)


def test_keywords_are_not_symbols() -> None:
    assert extract_symbols("if (x) { while (y) { return fetch(z); } }") == ("fetch",)


def test_names_shaped_like_code_in_prose_are_symbols() -> None:
    assert extract_symbols("why is loadUserData slow when cache_ttl is 0?") == (
        "cache_ttl",
        "loadUserData",
    )


def test_prose_words_after_function_are_not_symbols() -> None:
    assert extract_symbols("write a function that sorts users") == ()


def test_symbols_are_capped() -> None:
    prompt = "\n".join(f"call_{i}()" for i in range(100))
    assert len(extract_symbols(prompt)) == 32


def test_parse_instruction_combines_the_three() -> None:
    instruction = parse_instruction("def total(items):", None, [("cart.py", "")])
    assert (instruction.language, instruction.intent, instruction.symbols) == (
        "python",
        "complete",
        ("total",),
    )


def test_docstrings_are_not_instructions() -> None:
    prompt = '"""Fix the parser so that it writes errors."""\nimport os\n\ndef parse(line):\n    '
    assert detect_intent(prompt + "return line") == "complete"


def test_prose_between_code_lines_is_not_an_instruction() -> None:
    prompt = "def f():\n    return 1\nwhy this returns one is a long story\ndef g(x):"
    assert detect_intent(prompt) == "complete"


def test_prose_after_the_code_is_an_instruction() -> None:
    assert detect_intent("def f(x):\n    return x / 0\nwhy does this crash?") == "explain"


def test_long_buffer_is_read_at_its_head_and_tail() -> None:
    body = "".join(f"def step_{i}(value):\n    return value + {i}\n\n" for i in range(3000))
    assert len(body) > 50_000
    instruction = parse_instruction(body + "def final(value):\n    return step_1(")
    assert (instruction.language, instruction.intent) == ("python", "complete")
    assert instruction.symbols[:2] == ("step_1", "final")
    assert detect_intent("fix the off-by-one error below\n" + body) == "fix"


def test_long_buffer_keeps_the_fence_state_of_the_part_left_out() -> None:
    # The fence opens in the middle (not read) and closes in the tail: the question after it
    # is prose, not code inside a fence.
    prompt = "x = 1\n" * 1000 + "```\n" + "y = 2\n" * 3000 + "```\nwhy is this so slow?"
    assert detect_intent(prompt) == "explain"
