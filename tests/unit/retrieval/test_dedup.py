"""Deduplication: in-prompt, exact and near-duplicate chunks, without quadratic cost."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from cerebrum.retrieval.chunker import Chunk, chunk_id, normalize
from cerebrum.retrieval.dedup import deduplicate, line_similarity


def _chunk(text: str, index: int = 0, path: str | None = None) -> Chunk:
    normalized = normalize(text)
    return Chunk(
        id=chunk_id(path or f"file{index}.py", normalized),
        path=path or f"file{index}.py",
        start_line=1,
        end_line=text.count("\n") + 1,
        text=text,
        snippet_index=index,
        normalized=normalized,
    )


def _lines(prefix: str, count: int) -> list[str]:
    return [f"value_{prefix}_{i} = compute_{prefix}({i})" for i in range(count)]


def test_exact_duplicate_keeps_the_most_recent_copy() -> None:
    text = "\n".join(_lines("a", 10))
    old, new = _chunk(text, 0), _chunk("  " + text.replace("\n", "\n  ") + "\n\n", 1)
    result = deduplicate([old, new])
    assert result.kept == [new]
    assert [(d.chunk, d.reason, d.duplicate_of) for d in result.dropped] == [
        (old, "duplicate", new.id)
    ]


def test_near_duplicate_above_threshold_is_dropped() -> None:
    lines = _lines("a", 20)
    edited = [*lines[:-1], "value_changed = 0"]  # 19 of 20 lines shared: similarity 0.95
    old, new = _chunk("\n".join(lines), 0), _chunk("\n".join(edited), 1)
    result = deduplicate([old, new])
    assert result.kept == [new]
    assert result.dropped[0].reason == "near-duplicate"
    assert result.dropped[0].duplicate_of == new.id


def test_similar_chunks_below_threshold_are_both_kept() -> None:
    lines = _lines("a", 20)
    edited = [*lines[:-3], "x = 1", "y = 2", "z = 3"]  # 17 of 20 shared: similarity 0.85
    chunks = [_chunk("\n".join(lines), 0), _chunk("\n".join(edited), 1)]
    assert deduplicate(chunks).kept == chunks


def test_chunk_already_in_the_prompt_is_dropped() -> None:
    text = "\n".join(_lines("a", 12))
    prompt = "# editing\n" + text + "\ndef next_thing():\n    "
    result = deduplicate([_chunk(text)], prompt)
    assert result.kept == []
    assert result.dropped[0].reason == "in-prompt"


def test_prompt_lines_are_split_as_chunk_lines_are() -> None:
    text = "\r".join(_lines("a", 12))  # classic Mac line ends: one line for the chunker
    result = deduplicate([_chunk(text)], text)
    assert [d.reason for d in result.dropped] == ["in-prompt"]


def test_chunk_only_partly_in_the_prompt_is_kept() -> None:
    lines = _lines("a", 10)
    prompt = "\n".join(lines[:5])
    assert len(deduplicate([_chunk("\n".join(lines))], prompt).kept) == 1


def test_kept_chunks_stay_in_request_order() -> None:
    chunks = [_chunk("\n".join(_lines(name, 5)), i) for i, name in enumerate("abcd")]
    assert deduplicate(chunks).kept == chunks


def test_line_similarity_is_the_llama_vim_measure() -> None:
    a = frozenset({"1", "2", "3", "4"})
    assert line_similarity(a, frozenset({"1", "2", "3", "5"})) == 0.75
    assert line_similarity(a, a) == 1.0


def _corpus(count: int, planted: int, seed: int) -> tuple[list[Chunk], set[int]]:
    """`count` random code-like chunks of 20 lines; `planted` of them are followed later by a
    copy with one line changed. Returns the chunks and the positions of the originals."""
    rng = random.Random(seed)
    common = ["}", "return result", "", "else:", "pass", "break;", "{", "i += 1"]
    texts: list[list[str]] = []
    for _ in range(count - planted):
        lines = [
            rng.choice(common)
            if rng.random() < 0.3
            else f"v{rng.randrange(10**6)} = f{rng.randrange(10**4)}(a{rng.randrange(10**5)})"
            for _ in range(20)
        ]
        texts.append(lines)
    originals = rng.sample(range(len(texts)), planted)
    copies = []
    for original in originals:
        lines = list(texts[original])
        lines[rng.randrange(20)] = f"edited_{original} = 1"
        copies.append(lines)
    texts.extend(copies)
    chunks = [_chunk("\n".join(lines), i) for i, lines in enumerate(texts)]
    return chunks, set(originals)


def _seconds(function: Callable[[list[Chunk]], object], chunks: list[Chunk]) -> float:
    started = time.perf_counter()
    function(chunks)
    return time.perf_counter() - started


def _similar(a: Chunk, b: Chunk) -> bool:
    return (
        line_similarity(frozenset(a.normalized.split("\n")), frozenset(b.normalized.split("\n")))
        > 0.9
    )


def test_no_two_kept_chunks_are_near_duplicates_and_each_drop_has_a_kept_twin() -> None:
    chunks, _ = _corpus(600, 60, seed=3)
    result = deduplicate(chunks)
    kept = result.kept
    by_id = {c.id: c for c in kept}
    for i, a in enumerate(kept):  # brute force: the oracle
        assert not any(_similar(a, b) for b in kept[i + 1 :])
    for dropped in result.dropped:
        assert dropped.duplicate_of in by_id
        assert _similar(dropped.chunk, by_id[dropped.duplicate_of])


def test_near_duplicates_are_found_among_20000_chunks_in_sub_quadratic_time() -> None:
    small, _ = _corpus(2_000, 20, seed=1)
    large, originals = _corpus(20_000, 200, seed=2)
    small_seconds = min(_seconds(deduplicate, small) for _ in range(3))
    large_seconds = min(_seconds(deduplicate, large) for _ in range(2))
    result = deduplicate(large)

    copies = {chunk.text: chunk for chunk in large[-200:]}
    planted = {  # the originals whose edited copy is still above the threshold
        position
        for position in originals
        if any(_similar(large[position], copy) for copy in copies.values())
    }
    assert len(planted) >= 150  # most single-line edits keep the similarity above 0.9
    near = {d.chunk.snippet_index for d in result.dropped if d.reason == "near-duplicate"}
    assert planted <= near, f"missed {len(planted - near)} planted near-duplicates"
    assert len(near) <= len(originals) + 5  # random chunks are not near-duplicates
    # 10x the chunks: quadratic work would take 100x the time (linear measures 10-20x).
    assert large_seconds < 50 * max(small_seconds, 0.005), (small_seconds, large_seconds)
    assert large_seconds < 20.0
