"""Drop context chunks that add nothing: already in the prompt, exact or near duplicates.

Chunks are visited from the most recent snippet to the oldest (an editor's latest buffer
wins over an older copy of the same file), and each is compared with the chunks kept so far:

- "in-prompt": more than 90% of its distinct lines already appear in the prompt (lines as
  `chunker.normalize` makes them, in the chunk and in the prompt alike);
- "duplicate": the same normalised text (lines stripped, blank lines dropped) as a kept one;
- "near-duplicate": line-set similarity 2*common/(n0+n1) above 0.9 with a kept one, the
  measure llama.vim uses to evict ring-buffer chunks.

Near duplicates are found without comparing all pairs. With t = 0.9, a line set x can only
be similar to another if they share more than r|x| lines, r = t/(2-t) = 0.82. So a chunk
whose lines are mostly its own (not in any other chunk) is similar to nothing and skips the
search; that is most chunks of real code. The others go through prefix filtering (as in
similarity joins): their shared lines are sorted by one global order, rarest first, and two
similar sets must have a line in common among the first |shared| - floor(r|x|) of them. Only
those prefixes are indexed and probed, and every candidate found is checked exactly, so no
near duplicate is missed; rarest-first keeps index lists short (a line as common as `}` is
almost never in a prefix). A list that still grows past `max_postings` stops taking chunks:
the one case where a near duplicate can go unnoticed. Cost grows with the number of lines,
not with the square of the number of chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import cast

from cerebrum.retrieval.cache import ITEM_OVERHEAD, CacheSession, detached
from cerebrum.retrieval.chunker import Chunk, normalize
from cerebrum.retrieval.deadline import CHECK_EVERY, Deadline

SIMILARITY = 0.9
MAX_POSTINGS = 256


@dataclass(frozen=True, slots=True)
class Dropped:
    """A chunk left out, why, and the kept chunk it duplicates (if any)."""

    chunk: Chunk
    reason: str  # "in-prompt" | "duplicate" | "near-duplicate"
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class Deduplicated:
    kept: list[Chunk]  # in request order
    dropped: list[Dropped]


def deduplicate(
    chunks: Sequence[Chunk],
    prompt: str = "",
    similarity: float = SIMILARITY,
    max_postings: int = MAX_POSTINGS,
    *,
    cache: CacheSession | None = None,
    deadline: Deadline | None = None,
) -> Deduplicated:
    """Split chunks into the ones worth keeping and the ones that repeat the prompt or
    each other; the most recent of a group of duplicates is kept. The deadline is checked
    every CHECK_EVERY chunks."""
    cache = cache or detached()
    prompt_lines = _line_set(normalize(prompt))
    sets = [_lines_of(chunk, cache) for chunk in chunks]
    frequency = Counter(chain.from_iterable(sets))
    repeated = {line for line, count in frequency.items() if count > 1}
    rank: dict[str, int] | None = None  # the global order, built when first needed
    share = similarity / (2 - similarity)
    by_text: dict[str, Chunk] = {}
    postings: dict[str, list[int]] = {}  # prefix line -> positions of kept chunks
    kept: list[int] = []
    dropped: list[Dropped] = []
    for position in range(len(chunks) - 1, -1, -1):
        if deadline is not None and position % CHECK_EVERY == 0:
            deadline.check()
        chunk, lines = chunks[position], sets[position]
        if _mostly_in(lines, prompt_lines, similarity):
            dropped.append(Dropped(chunk, "in-prompt"))
            continue
        same = by_text.get(chunk.normalized)
        if same is not None:
            dropped.append(Dropped(chunk, "duplicate", same.id))
            continue
        shared = lines & repeated
        needed = int(share * len(lines) - 1e-9) + 1  # common lines a near twin must have
        prefix: list[str] = []
        if len(shared) >= needed:
            if rank is None:
                rank = {
                    line: i for i, line in enumerate(sorted(repeated, key=frequency.__getitem__))
                }
            prefix = sorted(shared, key=rank.__getitem__)[: len(shared) - needed + 1]
            twin = _near_duplicate(lines, prefix, postings, sets, similarity)
            if twin is not None:
                dropped.append(Dropped(chunk, "near-duplicate", chunks[twin].id))
                continue
        by_text[chunk.normalized] = chunk
        kept.append(position)
        for line in prefix:
            posting = postings.setdefault(line, [])
            if len(posting) < max_postings:
                posting.append(position)
    dropped.reverse()
    kept.reverse()
    return Deduplicated([chunks[i] for i in kept], dropped)


def line_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """2*|a & b| / (|a| + |b|): 1.0 for the same lines, 0.0 for none in common."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def _lines_of(chunk: Chunk, cache: CacheSession) -> frozenset[str]:
    """The chunk's distinct normalised lines; cached by chunk id."""
    key = ("lines", chunk.id)
    lines = cast("frozenset[str] | None", cache.get(key))
    if lines is None:
        lines = _line_set(chunk.normalized)
        cache.put(key, lines, len(chunk.normalized) + ITEM_OVERHEAD * len(lines))
    return lines


def _line_set(normalized: str) -> frozenset[str]:
    """The distinct lines of a normalised text (`chunker.normalize`)."""
    return frozenset(normalized.split("\n")) if normalized else frozenset()


def _mostly_in(lines: frozenset[str], prompt_lines: frozenset[str], share: float) -> bool:
    if not lines or not prompt_lines:
        return False
    return len(lines & prompt_lines) > share * len(lines) or lines <= prompt_lines


def _near_duplicate(
    lines: frozenset[str],
    prefix: Sequence[str],
    postings: dict[str, list[int]],
    sets: Sequence[frozenset[str]],
    similarity: float,
) -> int | None:
    """The position of a kept chunk whose line set is more than `similarity` alike."""
    size = len(lines)
    checked: set[int] = set()
    for line in prefix:
        for position in postings.get(line, ()):
            if position in checked:
                continue
            checked.add(position)
            other = sets[position]
            if 2 * min(size, len(other)) <= similarity * (size + len(other)):
                continue  # sizes too far apart to be similar
            if line_similarity(lines, other) > similarity:
                return position
    return None
