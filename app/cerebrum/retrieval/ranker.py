"""Score context chunks against the request, with every score explained by its parts.

score = the sum of the weighted signals, where

- bm25 (0..1): Okapi BM25 over identifier terms (an identifier and its parts as `lexicon`
  splits them, lowercased), divided by the best chunk's; the query is the request's symbols
  (weight 2) and the identifiers nearest the cursor: the end of the prompt and the start of
  the suffix;
- defines (0.5): the chunk defines a symbol the request is about (`def name`, `name(...) {`);
- path (0.3): the prompt mentions the chunk's file name;
- recency (0..0.2): later snippets are more recent (editors send the current buffer last);
- language (0.1): the chunk's language is the request's;
- module (1.0): the chunk's file is the module the cursor is about (`references.at_cursor`:
  named before a `.` at the cursor, or the import statement being typed);
- imports (0.3): the prompt imports the chunk's file;
- wanted (0.5): the chunk defines a name the suffix uses and the prompt never mentions;
- repeats (-1.0 x share): the share of the chunk's lines the end of the prompt already holds;
- new (0.3): the chunk defines a name the end of the prompt neither mentions nor imports;
- listed (1.0): the chunk's file defines (in one of the request's chunks) a name the import
  statement at the cursor lists (`import { Action, |`, `from attr import (NOTHING, |`):
  what the cursor imports next most likely comes from the same file;
- same_file (-0.3 x n): n chunks of the same file rank above this one (diminishing returns
  per file, so the room holds several files' definitions rather than one file's).

`Weights` sets each weight (0 leaves the signal out, of the score and of its explanation):
`CODE_AWARE` is the default, `LEXICAL` the ranker before it read code (the first five).
The parts but same_file are computed per chunk; same_file after a first sort, then the
chunks are sorted again.

Linear in the request: every scan is one pass over the text, an identifier counts with at
most MAX_WORD_CHARS characters, and a definition header is looked for within
MAX_HEADER_CHARS around a symbol; a chunk's lines are looked up in a set of the lines of
the prompt's last PROMPT_LINES_CHARS. What is learnt about chunks and contexts is kept in
the request's `CacheSession`.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, zip_longest
from typing import cast

from cerebrum.retrieval.cache import ITEM_OVERHEAD, CacheSession, detached
from cerebrum.retrieval.chunker import Chunk, normalize
from cerebrum.retrieval.deadline import CHECK_EVERY, Deadline
from cerebrum.retrieval.lexicon import (
    DECLARERS,
    DEFINERS,
    SUBWORD,
    file_name,
    identifier_runs,
    identifiers,
    is_identifier_char,
    mentioned_file_names,
)
from cerebrum.retrieval.references import at_cursor, defined_names, module_of

K1 = 1.2
B = 0.75
WEIGHT_DEFINES = 0.5
WEIGHT_PATH = 0.3
WEIGHT_RECENCY = 0.2
WEIGHT_LANGUAGE = 0.1
WEIGHT_MODULE = 1.0
WEIGHT_IMPORTS = 0.3
WEIGHT_WANTED = 0.5
WEIGHT_REPEATS = -1.0
WEIGHT_NEW = 0.3
WEIGHT_LISTED = 1.0
WEIGHT_SAME_FILE = -0.3
SYMBOL_WEIGHT = 2.0
QUERY_TAIL_CHARS = 2000  # how much of the prompt's end (and the suffix's start) is the query
MAX_QUERY_TERMS = 64
MAX_WORD_CHARS = 128  # an identifier is split into terms by its first 128 characters
MAX_HEADER_CHARS = 256  # a definition's name is this close to its line's start and end
PROMPT_LINES_CHARS = 32_000  # how much of the prompt's end a chunk's lines are looked up in


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each signal counts (its part is the signal, 0..1, times its weight); a
    signal weighted 0 is left out of the score and of its explanation."""

    bm25: float = 1.0
    defines: float = WEIGHT_DEFINES
    path: float = WEIGHT_PATH
    recency: float = WEIGHT_RECENCY
    language: float = WEIGHT_LANGUAGE
    module: float = WEIGHT_MODULE
    imports: float = WEIGHT_IMPORTS
    wanted: float = WEIGHT_WANTED
    repeats: float = WEIGHT_REPEATS
    new: float = WEIGHT_NEW
    listed: float = WEIGHT_LISTED
    same_file: float = WEIGHT_SAME_FILE

    @classmethod
    def only(cls, signal: str) -> Weights:
        """Weights that rank by one signal alone (the benchmark's baselines)."""
        return cls(**{name: float(name == signal) for name in cls.__dataclass_fields__})


LEXICAL = Weights(
    module=0.0,
    imports=0.0,
    wanted=0.0,
    repeats=0.0,
    new=0.0,
    listed=0.0,
    same_file=0.0,
)
"""The ranker before it read code: BM25, definitions of the request's symbols, file names
mentioned, recency and language."""
CODE_AWARE = Weights()
"""The default."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """A chunk with its score and the parts that make it up."""

    chunk: Chunk
    score: float
    parts: tuple[tuple[str, float], ...]


def rank_chunks(
    chunks: Sequence[Chunk],
    prompt: str,
    symbols: Sequence[str] = (),
    language: str | None = None,
    suffix: str | None = None,
    snippet_count: int | None = None,
    *,
    cache: CacheSession | None = None,
    deadline: Deadline | None = None,
    weights: Weights = CODE_AWARE,
) -> list[Ranked]:
    """Chunks sorted best first (ties: more recent snippet, then earlier lines). The deadline
    is checked every CHECK_EVERY chunks."""
    if not chunks:
        return []
    cache = cache or detached()
    query = build_query(prompt, symbols, suffix, cache=cache)
    documents = _documents(chunks, query, cache, deadline)
    bm25 = _bm25(documents, query)
    best = max(bm25, default=0.0) or 1.0
    snippets = snippet_count or (max(c.snippet_index for c in chunks) + 1)
    mentioned = mentioned_file_names(prompt)
    cursor = at_cursor(prompt, suffix)
    seen_lines = frozenset(normalize(prompt[-PROMPT_LINES_CHARS:]).split("\n"))
    defined_all = [_defined(chunk, cache) for chunk in chunks]
    listed_modules = _files_defining(chunks, defined_all, cursor.listed)
    ranked: list[Ranked] = []
    for position, (chunk, document, relevance) in enumerate(
        zip(chunks, documents, bm25, strict=True)
    ):
        if deadline is not None and position % CHECK_EVERY == 0:
            deadline.check()
        signals: list[tuple[str, float]] = [("bm25", relevance / best)]
        if document.symbols and _defines(chunk.text, document.symbols):
            signals.append(("defines", 1.0))
        if chunk.path and file_name(chunk.path) in mentioned:
            signals.append(("path", 1.0))
        signals.append(("recency", (chunk.snippet_index + 1) / snippets))
        if language and chunk.language == language:
            signals.append(("language", 1.0))
        module = module_of(chunk.path) if chunk.path else None
        if module in cursor.modules:
            signals.append(("module", 1.0))
        if module in cursor.imported:
            signals.append(("imports", 1.0))
        if module in listed_modules:
            signals.append(("listed", 1.0))
        defined = defined_all[position]
        if cursor.wanted and not cursor.wanted.isdisjoint(defined):
            signals.append(("wanted", 1.0))
        if not defined <= cursor.mentioned:
            signals.append(("new", 1.0))
        lines = chunk.normalized.split("\n")
        if repeated := sum(line in seen_lines for line in lines):
            signals.append(("repeats", repeated / len(lines)))
        parts = tuple(
            (name, weight * value) for name, value in signals if (weight := getattr(weights, name))
        )
        ranked.append(Ranked(chunk, sum(value for _, value in parts), parts))
    ranked.sort(key=_order)
    if weights.same_file:
        ranked = _spread(ranked, weights.same_file)
    return ranked


def _order(ranked: Ranked) -> tuple[float, int, int]:
    return (-ranked.score, -ranked.chunk.snippet_index, ranked.chunk.start_line)


def _spread(ranked: list[Ranked], weight: float) -> list[Ranked]:
    """Diminishing returns per file: each chunk loses `weight` for every chunk of its file
    ranked above it (part `same_file`), so the room holds several files' definitions."""
    before: Counter[str] = Counter()
    spread: list[Ranked] = []
    for entry in ranked:
        path = entry.chunk.path or ""
        if higher := before[path]:
            part = weight * higher
            entry = Ranked(entry.chunk, entry.score + part, (*entry.parts, ("same_file", part)))
        before[path] += 1
        spread.append(entry)
    spread.sort(key=_order)
    return spread


def _files_defining(
    chunks: Sequence[Chunk], defined: Sequence[frozenset[str]], names: frozenset[str]
) -> set[str]:
    """The modules (`module_of`) of the files some chunk of which defines one of `names`."""
    if not names:
        return set()
    return {
        module_of(chunk.path)
        for chunk, names_of in zip(chunks, defined, strict=True)
        if chunk.path and not names.isdisjoint(names_of)
    }


# --- query and terms --------------------------------------------------------------------

_STOPWORD_LIST = """
    a an and are as at be but by do does else for from has have if in into is it its
    not of on or so than that the then this to was were what when where which while
    why will with how def return self cls none true false null nil var let const int
    void new function fn func class public private static import include use pub mut
    str string bool float double char long self this end elif try except catch
"""
_STOPWORDS = frozenset(_STOPWORD_LIST.split())


@dataclass(frozen=True, slots=True)
class Query:
    weights: dict[str, float]  # term -> weight
    symbols: frozenset[str]  # exact identifiers the request is about


def build_query(
    prompt: str,
    symbols: Sequence[str] = (),
    suffix: str | None = None,
    *,
    cache: CacheSession | None = None,
) -> Query:
    """Weighted terms: the request's symbols count double; then the identifiers nearest the
    cursor (the end of the prompt, the start of the suffix), up to MAX_QUERY_TERMS in all."""
    cache = cache or detached()
    weights: dict[str, float] = {}
    for symbol in symbols:
        for term in terms_of(symbol, cache):
            weights[term] = SYMBOL_WEIGHT
    before = reversed(identifiers(prompt[-QUERY_TAIL_CHARS:]))
    after = iter(identifiers(suffix[: QUERY_TAIL_CHARS // 4]) if suffix else ())
    for identifier in chain.from_iterable(zip_longest(before, after, fillvalue="")):
        if len(weights) >= MAX_QUERY_TERMS:
            break
        for term in terms_of(identifier, cache):
            weights.setdefault(term, 1.0)
    return Query(weights, frozenset(symbols))


def terms_of(identifier: str, cache: CacheSession | None = None) -> tuple[str, ...]:
    """The lowercased identifier and its snake/camel parts: getHTTPCode -> gethttpcode,
    get, http, code; stopwords and one-letter parts left out. Only the first MAX_WORD_CHARS
    characters count (a longer identifier has the terms of that start)."""
    identifier = identifier[:MAX_WORD_CHARS]
    key = ("terms", identifier)
    terms = cast("tuple[str, ...] | None", cache.get(key)) if cache is not None else None
    if terms is None:
        lowered = identifier.lower()
        found = dict.fromkeys([lowered, *(part.lower() for part in SUBWORD.findall(identifier))])
        terms = tuple(t for t in found if len(t) > 1 and t not in _STOPWORDS and not t.isdigit())
        if cache is not None:
            cache.put(key, terms, 2 * len(identifier) + ITEM_OVERHEAD * (len(terms) + 1))
    return terms


# --- BM25 -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Document:
    length: int  # identifiers in the chunk
    frequencies: dict[str, int]  # query term -> occurrences
    symbols: tuple[str, ...]  # the request's symbols that occur in it


def _documents(
    chunks: Sequence[Chunk], query: Query, cache: CacheSession, deadline: Deadline | None
) -> list[_Document]:
    """Identifier counts of each chunk, for the query's terms only.

    Which identifiers hold a query term is decided once per distinct identifier of the whole
    context (a substring search over all of them, then the exact split of the few found),
    so the work per chunk is a few set operations in C. Both the counts and, term by term,
    those searches are cached for the context (`_Context`), which editors send again and again.
    """
    context = _Context.of(chunks, cache, deadline)
    hits = _identifiers_with_terms(context, query.weights)
    hit_words = hits.keys()
    symbols = {symbol.encode("utf-8", "surrogatepass") for symbol in query.symbols}
    documents: list[_Document] = []
    for length, counts in context.analysed:
        frequencies: dict[str, int] = {}
        distinct = counts.keys()
        for word in distinct & hit_words:
            count = counts[word]
            for term in hits[word]:
                frequencies[term] = frequencies.get(term, 0) + count
        present = tuple(s.decode("ascii") for s in distinct & symbols) if symbols else ()
        documents.append(_Document(length, frequencies, present))
    return documents


_Words = tuple[int, Counter[bytes]]  # (number of identifiers, count of each)


def _words_of(chunk: Chunk, cache: CacheSession) -> _Words:
    """(number of identifiers, count of each) in the chunk; cached by chunk id."""
    key = ("words", chunk.id)
    cached = cast("_Words | None", cache.get(key))
    if cached is None:
        raw = identifier_runs(chunk.text)
        counts = Counter(raw)
        cached = (len(raw), counts)
        cache.put(key, cached, _counts_size(counts))
    return cached


def _counts_size(counts: Counter[bytes]) -> int:
    return sum(map(len, counts)) + ITEM_OVERHEAD * len(counts)


class _Context:
    """One request's chunks as ranking sees them, whatever the query: each chunk's identifier
    counts and, made when first needed, an index of the context's distinct identifiers and
    the identifiers found to hold each term. All three are cache entries of their own,
    keyed by a digest of the chunk ids; none changes once stored."""

    def __init__(self, key: str, analysed: list[_Words], cache: CacheSession) -> None:
        self.key = key
        self.analysed = analysed
        self._cache = cache

    @classmethod
    def of(
        cls, chunks: Sequence[Chunk], cache: CacheSession, deadline: Deadline | None
    ) -> _Context:
        ids = "\n".join(chunk.id for chunk in chunks).encode("ascii")
        key = hashlib.blake2b(ids, digest_size=16).hexdigest()
        analysed = cast("list[_Words] | None", cache.get(("context", key)))
        if analysed is None:
            analysed = []
            for position, chunk in enumerate(chunks):
                if deadline is not None and position % CHECK_EVERY == 0:
                    deadline.check()
                analysed.append(_words_of(chunk, cache))
            size = 8 * len(analysed) + sum(_counts_size(counts) for _, counts in analysed)
            cache.put(("context", key), analysed, size)
        return cls(key, analysed, cache)

    def holding(self, term: str) -> tuple[bytes, ...]:
        """The distinct identifiers of the context that have `term` among their terms."""
        key = ("holding", self.key, term)
        found = cast("tuple[bytes, ...] | None", self._cache.get(key))
        if found is None:
            ordered, blob, starts = self._index()
            candidates: set[int] = set()
            needle = term.encode("ascii", "ignore")
            position = blob.find(needle) if needle else -1
            while position >= 0:
                index = bisect_right(starts, position) - 1
                candidates.add(index)
                position = blob.find(needle, starts[index + 1])  # next identifier on
            found = tuple(
                ordered[index]
                for index in candidates
                if term in terms_of(ordered[index].decode("ascii"), self._cache)
            )
            self._cache.put(key, found, len(term) + sum(map(len, found)) + 8 * len(found))
        return found

    def _index(self) -> tuple[list[bytes], bytes, list[int]]:
        """The distinct identifiers, the same lowercased into one newline-separated blob to
        search, and where each starts in it."""
        key = ("index", self.key)
        index = cast("tuple[list[bytes], bytes, list[int]] | None", self._cache.get(key))
        if index is None:
            ordered = list(set().union(*(counts.keys() for _, counts in self.analysed)))
            starts = list(accumulate((len(word) + 1 for word in ordered), initial=0))
            index = (ordered, b"\n".join(ordered).lower(), starts)
            size = len(index[1]) + (8 + ITEM_OVERHEAD) * len(ordered)
            self._cache.put(key, index, size)
        return index


def _identifiers_with_terms(
    context: _Context, weights: dict[str, float]
) -> dict[bytes, tuple[str, ...]]:
    """identifier -> the query terms among its terms, for the identifiers that have any."""
    words: set[bytes] = set()
    for term in weights:
        words.update(context.holding(term))
    return {
        word: tuple(t for t in terms_of(word.decode("ascii"), context._cache) if t in weights)
        for word in words
    }


def _bm25(documents: Sequence[_Document], query: Query) -> list[float]:
    count = len(documents)
    average = sum(d.length for d in documents) / count or 1.0
    frequency_of = Counter(chain.from_iterable(d.frequencies for d in documents))
    idf = {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency_of.items()}
    scores: list[float] = []
    for document in documents:
        norm = K1 * (1 - B + B * document.length / average)
        scores.append(
            sum(
                query.weights[term] * idf[term] * tf * (K1 + 1) / (tf + norm)
                for term, tf in document.frequencies.items()
            )
        )
    return scores


def _defined(chunk: Chunk, cache: CacheSession) -> frozenset[str]:
    """The names the chunk defines; cached by chunk id."""
    key = ("defined", chunk.id)
    names = cast("frozenset[str] | None", cache.get(key))
    if names is None:
        names = defined_names(chunk.text)
        cache.put(key, names, sum(map(len, names)) + ITEM_OVERHEAD * (len(names) + 1))
    return names


# --- hints ------------------------------------------------------------------------------

# what comes before a name it defines: a definer or a declarer, or (C) a storage class or type
_DEFINERS = frozenset((*DEFINERS, *DECLARERS, "static", "void", "int"))


def _defines(text: str, symbols: Iterable[str]) -> bool:
    """Whether the text defines one of the symbols: `def name`, `class name`, `fn name`, or a
    line starting at column 0 with `... name(` and no `;` (a C-style function header). The
    name must be within MAX_HEADER_CHARS of its line's start; the rest of the line is read
    up to MAX_HEADER_CHARS, so each occurrence costs a bounded amount."""
    for symbol in symbols:
        if not symbol:
            continue
        start = text.find(symbol)
        while start >= 0:
            end = start + len(symbol)
            line_start = text.rfind("\n", max(0, start - MAX_HEADER_CHARS - 1), start) + 1
            near_start = line_start > 0 or start <= MAX_HEADER_CHARS
            if (
                near_start
                and not is_identifier_char(text, end)
                and not is_identifier_char(text, start - 1)
            ):
                before = text[line_start:start]
                words = before.split()
                if words and words[-1] in _DEFINERS and before.endswith((" ", "\t")):
                    return True
                line_end = text.find("\n", end, end + MAX_HEADER_CHARS)
                rest = text[end : line_end if line_end >= 0 else end + MAX_HEADER_CHARS]
                if (
                    rest.lstrip().startswith("(")
                    and before[:1].isalpha()
                    and ";" not in rest
                    and "=" not in before
                    and before.rstrip()[-1:] not in (".", "(", ",")
                    and not before.lstrip().startswith(("return", "if", "while", "else"))
                ):
                    return True
            start = text.find(symbol, end)
    return False
