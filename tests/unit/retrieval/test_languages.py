"""retrieval/languages.py: language names, the files and interpreters that imply them, their
comment syntax and block style."""

from __future__ import annotations

import pytest
from cerebrum.retrieval.languages import (
    block_style,
    comment_syntax,
    language_of_path,
    language_of_program,
    normalize_language,
)


@pytest.mark.parametrize(
    ("name", "canonical"), [("Py", "python"), ("c++", "cpp"), (" TSX ", "typescript")]
)
def test_aliases_in_any_case_give_the_canonical_name(name, canonical):
    assert normalize_language(name) == canonical


@pytest.mark.parametrize("name", [None, "", "   "])
def test_no_name_or_a_blank_one_is_no_language(name):
    assert normalize_language(name) is None


def test_an_unknown_name_is_kept_in_lower_case():
    assert normalize_language("Zig") == "zig"


@pytest.mark.parametrize(
    ("path", "language"),
    [("src/app.ts", "typescript"), ("include/Util.H", "c"), ("C:\\code\\main.rs", "rust")],
)
def test_the_file_extension_names_the_language(path, language):
    assert language_of_path(path) == language


def test_makefile_and_dockerfile_are_known_by_their_whole_name():
    assert (language_of_path("build/Makefile"), language_of_path("Dockerfile")) == (
        "make",
        "dockerfile",
    )


@pytest.mark.parametrize("path", [None, "README", ".bashrc", "notes.unknown"])
def test_a_file_without_a_known_extension_has_no_language(path):
    assert language_of_path(path) is None


@pytest.mark.parametrize(
    ("program", "language"),
    [("python3.12", "python"), ("bash", "shell"), ("deno", "typescript"), ("node", "javascript")],
)
def test_an_interpreter_with_or_without_its_version_names_its_language(program, language):
    assert language_of_program(program) == language


def test_an_interpreter_of_no_known_language_is_none():
    assert language_of_program("awk") is None


@pytest.mark.parametrize(
    ("language", "syntax"),
    [("python", ("#", "")), ("css", ("/*", " */")), ("sql", ("--", "")), ("cobol", ("#", ""))],
)
def test_comment_syntax_is_the_languages_or_a_hash_when_unknown(language, syntax):
    assert comment_syntax(language) == syntax


@pytest.mark.parametrize(
    ("language", "style"),
    [("python", "indent"), ("go", "brace"), ("yaml", "lines"), (None, "lines")],
)
def test_block_style_is_the_languages_or_lines_when_unknown(language, style):
    assert block_style(language) == style
