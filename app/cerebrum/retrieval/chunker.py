"""Split context snippets into code-aware chunks with stable ids and line spans.

Python splits at top-level definitions (by indentation, tolerant of half-written code: no
`ast`), brace languages at top-level `{...}` blocks, other text at blank lines; pieces
smaller than `min_lines` are packed together, and pieces longer than `max_lines` are split
again one level deeper (a class at its methods), then into overlapping line windows.
The chunks of recently seen snippets are kept in the request's `CacheSession` (editors
send the same files again and again).

Linear in the text: every scan is a single pass (the strings-and-comments pattern consumes
whatever it starts: an unclosed string or comment runs to the end of its line), and the
splitter goes deeper at most MAX_DEPTH levels before it falls back to line windows.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress
from operator import not_, sub
from typing import cast

from cerebrum.retrieval.cache import ITEM_OVERHEAD, CacheSession, detached
from cerebrum.retrieval.deadline import Deadline
from cerebrum.retrieval.languages import block_style, language_of_path
from cerebrum.retrieval.request import Snippet

MAX_LINES = 40
MIN_LINES = 8
OVERLAP_LINES = 4
MAX_DEPTH = 8  # nested levels the splitter descends before it cuts line windows

# (lines, levels, start, end, level) -> line numbers where a new piece starts
_Boundaries = Callable[[Sequence[str], Sequence[int], int, int, int], list[int]]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a context snippet: its text and where it came from."""

    id: str  # hash of path + normalised text: the same chunk has the same id in every request
    path: str | None
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    text: str
    snippet_index: int  # the snippet's position in the request (later ones are more recent)
    language: str | None = None
    normalized: str = field(default="", repr=False)  # stripped non-blank lines, "\n"-joined


def chunk_snippets(
    snippets: Sequence[Snippet],
    language: str | None = None,
    max_lines: int = MAX_LINES,
    min_lines: int = MIN_LINES,
    overlap: int = OVERLAP_LINES,
    *,
    cache: CacheSession | None = None,
    deadline: Deadline | None = None,
) -> list[Chunk]:
    """Chunks of every snippet, in request order; `language` applies to snippets without a
    recognisable file extension (editor buffers). The deadline is checked per snippet."""
    cache = cache or detached()
    chunks: list[Chunk] = []
    for index, snippet in enumerate(snippets):
        if deadline is not None:
            deadline.check()
        snippet_language = language_of_path(snippet.path) or language
        key = (
            "chunks",
            snippet.text,
            snippet.path,
            snippet_language,
            max_lines,
            min_lines,
            overlap,
        )
        cached = cast("tuple[Chunk, ...] | None", cache.get(key))
        if cached is None or (cached and cached[0].snippet_index != index):
            if cached is None:
                cached = _chunk_one(snippet, index, snippet_language, max_lines, min_lines, overlap)
            else:
                cached = tuple(_with_index(chunk, index) for chunk in cached)
            cache.put(key, cached, _size_of(snippet.text, cached))
        chunks.extend(cached)
    return chunks


def _size_of(text: str, chunks: tuple[Chunk, ...]) -> int:
    """Accounted bytes of a snippet's cache entry: its text (the key) and its chunks."""
    held = sum(len(chunk.text) + len(chunk.normalized) for chunk in chunks)
    return len(text) + held + ITEM_OVERHEAD * 4 * len(chunks)


def _with_index(chunk: Chunk, index: int) -> Chunk:
    return Chunk(
        chunk.id,
        chunk.path,
        chunk.start_line,
        chunk.end_line,
        chunk.text,
        index,
        chunk.language,
        chunk.normalized,
    )


def _chunk_one(
    snippet: Snippet,
    index: int,
    language: str | None,
    max_lines: int,
    min_lines: int,
    overlap: int,
) -> tuple[Chunk, ...]:
    lines = snippet.text.split("\n")
    stripped = list(map(str.strip, lines))
    chunks: list[Chunk] = []
    for start, end in split_lines(lines, language, max_lines, min_lines, overlap, stripped):
        normalized = _joined(stripped[start:end])
        chunks.append(
            Chunk(
                id=chunk_id(snippet.path, normalized),
                path=snippet.path,
                start_line=start + 1,
                end_line=end,
                text="\n".join(lines[start:end]),
                snippet_index=index,
                language=language,
                normalized=normalized,
            )
        )
    return tuple(chunks)


def normalize(text: str) -> str:
    """The text's lines stripped, blank ones dropped: what ids and duplicates compare."""
    return _joined(map(str.strip, text.split("\n")))


def _joined(stripped: Iterable[str]) -> str:
    """Stripped lines, blank ones dropped, joined by newlines."""
    return "\n".join(filter(None, stripped))


def chunk_id(path: str | None, normalized: str) -> str:
    """A stable id: 16 hex digits of a hash of the path and the normalised text."""
    key = f"{path or ''}\0{normalized}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def split_lines(
    lines: Sequence[str],
    language: str | None,
    max_lines: int = MAX_LINES,
    min_lines: int = MIN_LINES,
    overlap: int = OVERLAP_LINES,
    stripped: Sequence[str] | None = None,
) -> list[tuple[int, int]]:
    """Half-open (start, end) line spans of the chunks, in order, blank lines trimmed;
    `stripped` is the lines stripped, when the caller has them already."""
    if stripped is None:
        stripped = list(map(str.strip, lines))
    style = block_style(language)
    boundaries: _Boundaries = _block_boundaries
    if style == "indent":
        levels = _indent_levels(lines, stripped)
        boundaries = _python_boundaries
    elif style == "brace":
        levels = _brace_levels(lines)
    else:
        levels = [0] * len(lines)
    spans: list[tuple[int, int]] = []
    split = _Splitter(stripped, levels, boundaries, max_lines, min_lines, overlap, spans)
    split(0, len(lines), 0)
    return spans


# --- splitting --------------------------------------------------------------------------


@dataclass(slots=True)
class _Splitter:
    stripped: Sequence[str]
    levels: Sequence[int]
    boundaries: _Boundaries
    max_lines: int
    min_lines: int
    overlap: int
    out: list[tuple[int, int]]

    def __call__(
        self, start: int, end: int, level: int, cuts: list[int] | None = None, depth: int = 0
    ) -> None:
        """Split lines[start:end] at `level`; go one level deeper into oversized pieces, at
        most MAX_DEPTH levels (each level costs one pass over its lines)."""
        if cuts is None:
            cuts = self.boundaries(self.stripped, self.levels, start, end, level)
        for piece_start, piece_end in _pack([*cuts, end], start, self.max_lines, self.min_lines):
            piece_start, piece_end = _trim(self.stripped, piece_start, piece_end)
            if piece_start >= piece_end:
                continue
            if piece_end - piece_start <= self.max_lines + self.min_lines:
                self.out.append((piece_start, piece_end))
                continue
            deeper = (
                _body_level(self.levels, piece_start, piece_end, level)
                if depth < MAX_DEPTH
                else None
            )
            inner = (
                self.boundaries(self.stripped, self.levels, piece_start, piece_end, deeper)
                if deeper is not None
                else []
            )
            if deeper is not None and inner:
                self(piece_start, piece_end, deeper, inner, depth + 1)
            else:
                self.out.extend(
                    _windows(self.stripped, piece_start, piece_end, self.max_lines, self.overlap)
                )


def _pack(cuts: Sequence[int], start: int, max_lines: int, min_lines: int) -> list[tuple[int, int]]:
    """Join consecutive pieces while one of them is small and the result stays within
    max_lines + min_lines; a small piece before an oversized one (a header, imports) joins
    it anyway, so that the deeper split or the windows start with it."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    for cut in cuts:
        if cut <= piece_start:
            continue
        if pieces:
            last_start, last_end = pieces[-1]
            last_size, size = last_end - last_start, cut - piece_start
            fits = cut - last_start <= max_lines + min_lines
            if (min(last_size, size) < min_lines and fits) or (
                last_size < min_lines and size > max_lines
            ):
                pieces[-1] = (last_start, cut)
                piece_start = cut
                continue
        pieces.append((piece_start, cut))
        piece_start = cut
    return pieces


def _windows(
    stripped: Sequence[str], start: int, end: int, max_lines: int, overlap: int
) -> list[tuple[int, int]]:
    step = max(1, max_lines - overlap)
    spans: list[tuple[int, int]] = []
    window_start = start
    while True:
        window_end = min(end, window_start + max_lines)
        span = _trim(stripped, window_start, window_end)
        if span[0] < span[1]:
            spans.append(span)
        if window_end >= end:
            return spans
        window_start += step


def _trim(stripped: Sequence[str], start: int, end: int) -> tuple[int, int]:
    while start < end and not stripped[start]:
        start += 1
    while end > start and not stripped[end - 1]:
        end -= 1
    return start, end


def _body_level(levels: Sequence[int], start: int, end: int, level: int) -> int | None:
    """The smallest level deeper than `level` inside the span (a class body, a namespace)."""
    deeper = [lvl for lvl in set(levels[start:end]) if level < lvl < _NO_LEVEL]
    return min(deeper) if deeper else None


def _continuation(*keywords: str) -> re.Pattern[str]:
    """What starts a line that continues the block above rather than a new piece: a closing
    bracket or one of the keywords."""
    return re.compile(rf"[)\]}}]|(?:{'|'.join(keywords)})\b")


# --- Python: indentation ----------------------------------------------------------------

_NO_LEVEL = 1 << 20  # blank lines and string bodies: they neither start nor end a piece
_PY_HEADER = re.compile(r"(?:async[ \t]+def|def|class)[ \t]+\w|@")
_PY_CONTINUATION = _continuation("else", "elif", "except", "finally", "case")


def _indent_levels(lines: Sequence[str], stripped: Sequence[str]) -> list[int]:
    """Indentation width per line (a tab counts 1); _NO_LEVEL for blank lines and the lines
    of multi-line strings."""
    levels = list(map(sub, map(len, lines), map(len, map(str.lstrip, lines))))
    for number in compress(range(len(lines)), map(not_, stripped)):
        levels[number] = _NO_LEVEL
    text = "\n".join(lines)
    starts = list(accumulate(map((1).__add__, map(len, lines)), initial=0))
    quotes = Counter(bisect_right(starts, position) - 1 for position in _triple_quotes(text))
    quoted = sorted(number for number, count in quotes.items() if count % 2)
    opened: int | None = None
    for number in quoted:  # lines that open or close a multi-line string
        if opened is None:
            opened = number
        else:
            levels[opened + 1 : number + 1] = [_NO_LEVEL] * (number - opened)
            opened = None
    if opened is not None:
        levels[opened + 1 :] = [_NO_LEVEL] * (len(levels) - opened - 1)
    return levels


def _triple_quotes(text: str) -> list[int]:
    """Offsets of every triple quote, in order."""
    found: list[int] = []
    for quote in ('"' * 3, "'" * 3):
        position = text.find(quote)
        while position >= 0:
            found.append(position)
            position = text.find(quote, position + 3)
    return sorted(found)


def _positions(levels: Sequence[int], level: int, start: int, end: int) -> list[int]:
    """The line numbers in [start, end) whose level is `level` (the scan runs in C)."""
    return list(compress(range(start, end), map(level.__eq__, levels[start:end])))


def _python_boundaries(
    stripped: Sequence[str], levels: Sequence[int], start: int, end: int, level: int
) -> list[int]:
    """Line numbers where a definition at `level` begins (with its decorators and the
    comments right above it), or where code at `level` resumes after a deeper block."""
    cuts: list[int] = []
    for number in _positions(levels, level, start + 1, end):
        text = stripped[number]
        if text[0] == "#":
            continue
        if levels[number - 1] == level and stripped[number - 1][0] != "#" and text[0] not in "dca@":
            continue  # right after code at its own level, only a header (def, class, @) cuts
        cut = number
        previous = number - 1  # the previous code line, above comments and blank lines
        while previous > start and (levels[previous] >= _NO_LEVEL or stripped[previous][0] == "#"):
            if levels[previous] == level and cut == previous + 1:
                cut = previous  # a comment right above the line belongs to it
            previous -= 1
        previous_level = levels[previous] if stripped[previous][:1] not in ("", "#") else level
        if previous_level < level:
            continue
        after_decorator = previous_level == level and stripped[previous][:1] == "@"
        header = _PY_HEADER.match(text) is not None and not after_decorator
        resumes = level < previous_level < _NO_LEVEL and not _PY_CONTINUATION.match(text)
        if (header or resumes) and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    return cuts


# --- braces and blank lines -------------------------------------------------------------


def _strings_and_comments(unclosed: str) -> re.Pattern[str]:
    """Strings, character literals and comments on one line, for quotes not in `unclosed`.

    Every alternative is possessive, and a quote that no later quote closes is matched with
    the rest of its line (groups 1 and 2): one failed scan instead of one per later quote.
    """
    parts = [rf"{q}(?>(?:[^{q}\\]++|\\.)*){q}" for q in "\"'" if q not in unclosed]
    parts += [r"//.*+", r"/\*(?>(?:[^*]++|\*(?!/))*)(?:\*/)?"]
    still_open = "".join(q for q in "\"'" if q not in unclosed)
    if still_open:
        parts.append(rf"([{still_open}])(.*+)")
    return re.compile("|".join(parts))


# keyed by the quotes known to be unclosed on the rest of the line, sorted
_STRINGS_AND_COMMENTS = {key: _strings_and_comments(key) for key in ("", '"', "'", "\"'")}


def code_of_line(line: str, unclosed: str = "") -> str:
    """The line without its strings and comments, in one pass (linear in the line).

    A quote that is not closed on the line is plain text, as is any later quote of the same
    kind (none of them can close either); strings of the other kind and comments after it
    are still removed.
    """

    pattern = _STRINGS_AND_COMMENTS[unclosed]
    parts = pattern.split(line)  # text, (quote, rest) per match, ..., text
    if pattern.groups and len(parts) > 1 and parts[-3] is not None:
        quote, rest = parts[-3], parts[-2]  # an unclosed quote took the rest of the line
        kept = "".join(filter(None, parts[:-3]))
        return kept + quote + code_of_line(rest, "".join(sorted(unclosed + quote)))
    return "".join(filter(None, parts))


_BLOCK_CONTINUATION = _continuation("else", "catch", "finally", "except", "while")


def _brace_levels(lines: Sequence[str]) -> list[int]:
    """Brace depth at the start of each line (strings and comments on the line ignored)."""
    levels = [0] * len(lines)
    depth = 0
    filled = 0  # levels[:filled] are set
    for number in [i for i, line in enumerate(lines) if "{" in line or "}" in line]:
        levels[filled : number + 1] = [depth] * (number + 1 - filled)
        filled = number + 1
        line = lines[number]
        if '"' in line or "'" in line or "/" in line:
            line = code_of_line(line)
        depth = max(0, depth + line.count("{") - line.count("}"))
    levels[filled:] = [depth] * (len(lines) - filled)
    return levels


def _block_boundaries(
    stripped: Sequence[str], levels: Sequence[int], start: int, end: int, level: int
) -> list[int]:
    """Line numbers at depth `level` that follow a blank line or a block closed back to
    `level`, unless they continue it (`} else {`, `)`, `catch`)."""
    cuts: list[int] = []
    for number in _positions(levels, level, start + 1, end):
        if not stripped[number]:
            continue
        previous = number - 1
        after_blank = not stripped[previous]
        while previous > start and not stripped[previous]:
            previous -= 1
        closed = levels[previous] > level or stripped[previous].endswith(("}", "};"))
        if (after_blank or closed) and not _BLOCK_CONTINUATION.match(stripped[number]):
            cuts.append(number)
    return cuts
