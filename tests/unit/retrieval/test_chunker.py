"""The chunker: code-aware pieces of context with stable ids and line spans."""

from __future__ import annotations

import random
import textwrap

from cerebrum.retrieval import PipelineCache, Snippet
from cerebrum.retrieval.chunker import (
    chunk_id,
    chunk_snippets,
    normalize,
    split_lines,
)


def _function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x_{i} = {name}_step({i})\n" for i in range(body_lines))
    return f"{indent}def {name}(arg):\n{body}{indent}    return arg\n"


def _first_lines(text: str, language: str | None, **kwargs: int) -> list[str]:
    lines = text.splitlines()
    return [lines[start].strip() for start, _ in split_lines(lines, language, **kwargs)]


def test_python_splits_at_top_level_functions() -> None:
    text = "\n\n".join(_function(name, 10) for name in ("alpha", "beta", "gamma"))
    assert _first_lines(text, "python") == ["def alpha(arg):", "def beta(arg):", "def gamma(arg):"]


def test_python_keeps_decorators_and_comments_with_their_function() -> None:
    text = (
        _function("alpha", 10) + "\n# beta does things\n@cached\n@traced\n" + _function("beta", 10)
    )
    assert _first_lines(text, "python") == ["def alpha(arg):", "# beta does things"]


def test_python_small_definitions_are_packed_together() -> None:
    text = "\n\n".join(_function(f"f{i}", 1) for i in range(6))
    spans = split_lines(text.splitlines(), "python")
    assert len(spans) < 6
    assert all(end - start <= 40 + 8 for start, end in spans)


def test_python_big_class_is_split_at_its_methods() -> None:
    methods = "\n".join(_function(f"method_{i}", 12, indent="    ") for i in range(5))
    text = "class Service:\n    '''A service.'''\n\n" + methods
    firsts = _first_lines(text, "python")
    assert firsts[0] == "class Service:"
    assert sum(line.startswith("def method_") for line in firsts) >= 3


def test_python_half_written_code_still_chunks() -> None:
    text = _function("alpha", 10) + "\ndef broken(:\n    if x ==\n" + _function("gamma", 10)
    firsts = _first_lines(text, "python")
    assert firsts[0] == "def alpha(arg):"
    assert "def gamma(arg):" in firsts


def test_python_multiline_string_at_column_zero_does_not_split_a_function() -> None:
    doc = 'def alpha():\n    text = """\nnot code\nclass NotAClass:\n"""\n' + "    y = 1\n" * 10
    assert _first_lines(doc + "\n" + _function("beta", 10), "python") == [
        "def alpha():",
        "def beta(arg):",
    ]


def test_brace_language_splits_at_top_level_blocks() -> None:
    block = "int {name}(int a) {{\n" + "    a = a + 1;\n" * 10 + "    return a;\n}}\n"
    text = "#include <stdio.h>\n\n" + "\n".join(block.format(name=n) for n in ("one", "two"))
    # The one-line #include is packed with the first function.
    assert _first_lines(text, "c") == ["#include <stdio.h>", "int two(int a) {"]


def test_braces_inside_strings_do_not_change_the_depth() -> None:
    body = '    printf("{{{ not a block\\n");\n' + "    a++;\n" * 12
    text = f"void one(void) {{\n{body}}}\n\nvoid two(void) {{\n{body}}}\n"
    assert _first_lines(text, "c") == ["void one(void) {", "void two(void) {"]


def test_unknown_language_long_runs_become_overlapping_windows() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    spans = split_lines(text.splitlines(), None, max_lines=40, min_lines=8, overlap=4)
    assert spans[0] == (0, 40)
    assert spans[1][0] == 36  # 4 lines of overlap
    assert spans[-1][1] == 100


def test_chunks_cover_every_non_blank_line_and_respect_the_size_limit() -> None:
    rng = random.Random(1)
    pieces = ["def f():", "    return 1", "class C:", "    x = {", "    }", "", "}", "x = 1"]
    for language in ("python", "javascript", None):
        for _ in range(50):
            lines = [rng.choice(pieces) for _ in range(rng.randint(0, 300))]
            spans = split_lines(lines, language, max_lines=40, min_lines=8)
            covered = {i for start, end in spans for i in range(start, end)}
            assert {i for i, line in enumerate(lines) if line.strip()} <= covered
            assert all(0 < end - start <= 48 for start, end in spans)
            assert all(lines[start].strip() and lines[end - 1].strip() for start, end in spans)


def test_chunk_carries_its_path_lines_and_text() -> None:
    text = "\n\n" + _function("alpha", 10) + "\n\n" + _function("beta", 10)
    chunks = chunk_snippets([Snippet(text, "src/app.py")])
    lines = text.splitlines()
    for chunk in chunks:
        assert chunk.path == "src/app.py"
        assert chunk.language == "python"
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
    assert chunks[0].start_line == 3


def test_chunk_ids_are_stable_and_ignore_indentation_changes() -> None:
    text = _function("alpha", 10)
    first = chunk_snippets([Snippet(text, "a.py")])
    again = chunk_snippets([Snippet(text, "a.py")])
    reindented = chunk_snippets([Snippet(textwrap.indent(text, "  ") + "  \n", "a.py")])
    assert [c.id for c in first] == [c.id for c in again] == [c.id for c in reindented]


def test_chunk_ids_differ_by_path_and_content() -> None:
    text = _function("alpha", 10)
    ids = {
        chunk_snippets([Snippet(text, "a.py")])[0].id,
        chunk_snippets([Snippet(text, "b.py")])[0].id,
        chunk_snippets([Snippet(text.replace("alpha", "omega"), "a.py")])[0].id,
    }
    assert len(ids) == 3


def test_normalize_strips_lines_and_drops_blank_ones() -> None:
    assert normalize("  a = 1  \n\n\tb = 2\n") == "a = 1\nb = 2"
    assert chunk_id(None, "x") != chunk_id("p", "x")


def test_snippet_without_path_uses_the_request_language() -> None:
    chunks = chunk_snippets([Snippet(_function("alpha", 10))], language="python")
    assert chunks[0].language == "python"
    assert chunks[0].path is None


def test_snippet_index_records_the_order_of_snippets() -> None:
    chunks = chunk_snippets([Snippet("a = 1", "a.py"), Snippet("b = 2", "b.py")])
    assert [c.snippet_index for c in chunks] == [0, 1]


def test_blank_snippet_gives_no_chunks() -> None:
    assert chunk_snippets([Snippet("\n  \n\t\n", "a.py")]) == []


def test_cached_chunks_are_the_same_and_carry_the_new_snippet_index() -> None:
    cache = PipelineCache(1 << 20)
    text = _function("alpha", 10) + "\n" + _function("beta", 10)
    session = cache.session()
    first = chunk_snippets([Snippet(text, "a.py")], cache=session)
    session.commit()
    assert len(cache) == 1
    again = chunk_snippets([Snippet("x = 1", "b.py"), Snippet(text, "a.py")], cache=cache.session())
    again = again[1:]
    assert [(c.id, c.text, c.start_line) for c in first] == [
        (c.id, c.text, c.start_line) for c in again
    ]
    assert {c.snippet_index for c in again} == {1}


def test_the_cache_tells_snippets_apart_by_path_and_language() -> None:
    text = "x = {\n  a: 1\n}\n\ny = 2\n"
    session = PipelineCache(1 << 20).session()
    as_python = chunk_snippets([Snippet(text, "a.py")], cache=session)
    as_javascript = chunk_snippets([Snippet(text, "a.js")], cache=session)
    assert as_python[0].language == "python"
    assert as_javascript[0].language == "javascript"
    assert as_python[0].id != chunk_snippets([Snippet(text, "b.py")], cache=session)[0].id
