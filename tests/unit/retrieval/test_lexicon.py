"""The lexicon: identifiers, their parts and file names, as every stage reads them."""

from __future__ import annotations

from cerebrum.retrieval.lexicon import (
    SUBWORD,
    SUBWORD_BYTES,
    file_name,
    identifier_runs,
    identifiers,
    is_identifier_char,
    mentioned_file_names,
)


def test_identifiers_are_ascii_runs_that_do_not_start_with_a_digit() -> None:
    assert identifiers("getX(0x1F, b_2) + _tmp.size") == ["getX", "b_2", "_tmp", "size"]
    assert identifier_runs("a1 2b") == [b"a1", b"2b"]


def test_a_non_ascii_letter_separates_identifiers_everywhere() -> None:
    text = "éfoo"
    assert identifiers(text) == ["foo"]
    assert not is_identifier_char(text, 0)
    assert is_identifier_char(text, 1)
    assert not is_identifier_char(text, len(text))


def test_subwords_split_at_case_changes_digits_and_underscores() -> None:
    assert SUBWORD.findall("getHTTPCode_v2") == ["get", "HTTP", "Code", "v"]
    assert SUBWORD_BYTES.findall(b"parseXMLFile") == [b"parse", b"XML", b"File"]


def test_file_name_is_the_last_part_of_a_path_with_either_separator() -> None:
    assert file_name("src\\app/main.ts") == "main.ts"
    assert file_name("Makefile") == "Makefile"


def test_mentioned_file_names_end_in_an_extension() -> None:
    text = "see src/utils.py, lib.rs.bak and the README."
    assert mentioned_file_names(text) == {"utils.py", "lib.rs.bak"}
