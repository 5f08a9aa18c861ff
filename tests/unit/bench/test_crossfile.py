"""The cross-file benchmark's case rule and rings, on a tiny synthetic package."""

from __future__ import annotations

import random

from bench.crossfile import RING_CHUNKS, build_cases, candidates, cursor_request, pick_chunk

PACKAGE = {
    "pkg/util.py": "def compute_total(items):\n    return sum(items)\n\nSHARED_NAME = 1\n",
    "pkg/other.py": "SHARED_NAME = 2\n",
    "pkg/main.py": (
        "from .util import compute_total\n"
        "\n"
        "def run(items):\n"
        "    note = 'compute_total'\n"
        "    return compute_total(items) + SHARED_NAME\n"
    ),
    "pkg/doc.py": "# compute_total, in a comment, is before the cursor\nx = compute_total\n",
    "pkg/quoted.py": "x = 'compute_total'\ny = compute_total\n",
    "pkg/late.py": "import util\n\nx = 'text'\ny = util.compute_total([1])\n",
}


def _names(found: list[tuple[str, int, str, str, int]]) -> set[tuple[str, str]]:
    return {(path, name) for path, _, name, _, _ in found}


def test_a_case_is_the_first_use_in_code_of_a_name_defined_in_one_other_file() -> None:
    found = candidates(PACKAGE)
    assert ("pkg/main.py", "compute_total") in _names(found)
    assert ("pkg/late.py", "compute_total") in _names(found)
    place = next(p for p in found if p[0] == "pkg/main.py")
    text = PACKAGE["pkg/main.py"]
    assert text[place[1] :].startswith("compute_total\n")
    assert place[3:] == ("pkg/util.py", 0)


def test_a_name_in_a_comment_or_a_string_before_the_cursor_makes_no_case() -> None:
    found = _names(candidates(PACKAGE))
    assert ("pkg/doc.py", "compute_total") not in found
    assert ("pkg/quoted.py", "compute_total") not in found


def test_names_defined_in_two_files_or_in_the_file_itself_make_no_case() -> None:
    found = _names(candidates(PACKAGE))
    assert ("pkg/main.py", "SHARED_NAME") not in found  # defined in util.py and other.py
    assert all(path != "pkg/util.py" for path, _ in found)


def test_the_suffix_starts_at_the_next_line_and_holds_no_part_of_the_name() -> None:
    text = PACKAGE["pkg/late.py"]
    prefix, suffix = cursor_request(text, text.index("compute_total"))
    assert prefix.endswith("y = util.")
    assert suffix == "\n"


def test_a_chunk_is_a_run_of_33_lines_out_of_the_65_around_a_line() -> None:
    lines = [f"line {n}" for n in range(200)]
    start, chunk = pick_chunk(lines, 100, random.Random(1))
    assert len(chunk) == 33
    assert start >= 68
    assert start + len(chunk) <= 133
    assert pick_chunk(lines[:20], 5, random.Random(1)) == (0, lines[:20][:38])


def test_every_ring_holds_the_defining_chunk_and_at_most_16_chunks() -> None:
    files = {**PACKAGE, **{f"pkg/f{n}.py": f"def f{n}():\n    pass\n" * 40 for n in range(30)}}
    cases = build_cases(files, "pkg", random.Random(3))
    assert cases
    for case in cases:
        assert case.defining in case.ring
        assert len(case.ring) <= RING_CHUNKS
        assert case.definition in case.defining.text
        others = [s for s in case.ring if s is not case.defining]
        assert all(case.definition not in s.text for s in others)
