"""Adversarial inputs for the prompt pipeline: texts that make backtracking patterns and
nested scans blow up (one giant line, repeated characters, unbalanced brackets, quotes and
escapes, very long words after every language cue, deep nesting).

Shared by the linearity guard (tests/unit/retrieval/test_linearity.py) and the pipeline
benchmark (bench/pipeline.py), so both exercise the same inputs; it lives in the harness
because tests never import the bench. Every generator returns a text of about `size`
characters.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Generator = Callable[[int], str]

# Words that open a language cue or a symbol pattern in the instruction parser, the ranker's
# definition search, or the chunker's block rules; each is followed by a very long word, and
# repeated with an opening bracket and no closer.
CUE_WORDS = (
    "def", "class", "import", "from", "for", "if", "fn", "pub fn", "let", "let mut", "impl",
    "use", "func", "package", "#include", "printf", "std::", "template", "public class",
    "System.out.", "function", "const", "interface", "using", "namespace", "echo", "select",
    "<?php", "puts", "<div", "struct", "enum", "type", "var", "self.", "__", "fmt.", "=>",
)  # fmt: skip


def _repeat(piece: str) -> Generator:
    return lambda size: piece * max(1, size // len(piece))


def _long_word_after_each_cue(size: int) -> str:
    """Each cue word followed by one long word: a pattern that backtracks over a word is
    quadratic in its block, so the whole text still grows quadratically."""
    share = max(1, size // len(CUE_WORDS) - 8)
    return "\n".join(f"{word} " + "a" * share for word in CUE_WORDS)


def _unclosed_after_each_cue(size: int) -> str:
    """A block per cue word of `word a(` repeated on one line, never closed."""
    share = max(1, size // len(CUE_WORDS))
    return "\n".join(_repeat(f"{word} a(")(share) for word in CUE_WORDS)


def _one_giant_line(size: int) -> str:
    rng = random.Random(size)
    alphabet = "abcXY_01 (){}[]<>\"'\\/*#:;.,=!-`$@"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _deep_python(size: int) -> str:
    lines, depth, total = [], 0, 0
    while total < size:
        line = " " * depth + f"def f{depth}():"
        lines.append(line)
        total += len(line) + 1
        depth += 1
    return "\n".join(lines)


def _deep_braces(size: int) -> str:
    lines = [f"void f{i}() {{" for i in range(max(1, size // 14))]
    return "\n".join(lines)


GENERATORS: dict[str, Generator] = {
    "letter": _repeat("a"),
    "capital then lower": lambda size: "A" * max(1, size - 1) + "a",
    "camel": _repeat("aB"),
    "underscore": _repeat("_"),
    "digits and letters": _repeat("a1"),
    "dotted": _repeat("a."),
    "dashed dots": _repeat("-."),
    "space": _repeat(" "),
    "tab": _repeat("\t"),
    "newline": _repeat("\n"),
    "short lines": _repeat("x\n"),
    "open paren": _repeat("("),
    "close paren": _repeat(")"),
    "open brace": _repeat("{"),
    "close brace": _repeat("}"),
    "brace then quote-escape pairs": lambda size: "{" + '"\\' * max(1, size // 2),
    "brace then apostrophe-escape pairs": lambda size: "{" + "'\\" * max(1, size // 2),
    "double quote": _repeat('"'),
    "apostrophe": _repeat("'"),
    "backslash": _repeat("\\"),
    "backtick": _repeat("`"),
    "colon": _repeat(":"),
    "colon space": _repeat(": "),
    "comment opener": _repeat("/*"),
    "brace comment opener": lambda size: "{" + "/*" * max(1, size // 2),
    "hash": _repeat("#"),
    "fence": _repeat("```\n"),
    "triple quote": _repeat('"""\n'),
    "dollar brace": _repeat("${"),
    "call": _repeat("f("),
    "tag": _repeat("<p"),
    "one giant line": _one_giant_line,
    "deep python": _deep_python,
    "deep braces": _deep_braces,
    "long word after each cue": _long_word_after_each_cue,
    "unclosed bracket after each cue": _unclosed_after_each_cue,
}
