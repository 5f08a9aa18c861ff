"""The ranker: BM25 over identifier terms plus explained hints."""

from __future__ import annotations

import pytest
from cerebrum.retrieval.cache import PipelineCache
from cerebrum.retrieval.chunker import Chunk, chunk_id, normalize
from cerebrum.retrieval.ranker import (
    LEXICAL,
    WEIGHT_IMPORTS,
    WEIGHT_LISTED,
    WEIGHT_NEW,
    WEIGHT_REPEATS,
    WEIGHT_SAME_FILE,
    WEIGHT_WANTED,
    Ranked,
    Weights,
    build_query,
    rank_chunks,
    terms_of,
)


def _chunk(text: str, index: int = 0, path: str = "a.py", language: str | None = "python") -> Chunk:
    normalized = normalize(text)
    return Chunk(
        id=chunk_id(f"{path}{index}", normalized),
        path=path,
        start_line=1,
        end_line=text.count("\n") + 1,
        text=text,
        snippet_index=index,
        language=language,
        normalized=normalized,
    )


FILLER = [
    "def render(page):\n    html = template.fill(page.body)\n    return html\n",
    "class Cache:\n    def get(self, key):\n        return self.store.get(key)\n",
    "def send(mail):\n    smtp.connect(host)\n    smtp.deliver(mail)\n",
]


def test_terms_split_snake_and_camel_case() -> None:
    assert terms_of("getHTTPResponse_code") == (
        "gethttpresponse_code",
        "get",
        "http",
        "response",
        "code",
    )


def test_terms_drop_stopwords_short_parts_and_numbers() -> None:
    assert terms_of("self") == ()
    assert terms_of("x2") == ("x2",)
    assert terms_of("v_2") == ("v_2",)


def test_chunk_sharing_the_prompt_identifiers_ranks_first() -> None:
    target = _chunk("def load_config(path):\n    return parse_yaml(read(path))\n", 0)
    chunks = [*(_chunk(t, 0) for t in FILLER), target]
    ranked = rank_chunks(chunks, "settings = load_config(config_path)\n")
    assert ranked[0].chunk is target


def test_camel_case_matches_snake_case_query() -> None:
    target = _chunk("function parseUserRecord(row) {\n  return new UserRecord(row);\n}\n", 0)
    chunks = [*(_chunk(t, 0) for t in FILLER), target]
    assert rank_chunks(chunks, "record = parse_user_record(line)")[0].chunk is target


def test_chunk_defining_a_symbol_gets_the_defines_part() -> None:
    definer = _chunk("def total_price(cart):\n    return sum(i.price for i in cart)\n", 0)
    caller = _chunk("def checkout(cart):\n    amount = total_price(cart)\n    return amount\n", 0)
    ranked = rank_chunks([caller, definer], "x = total_price(cart)", symbols=["total_price"])
    assert ranked[0].chunk is definer
    assert dict(ranked[0].parts)["defines"] == 0.5
    assert "defines" not in dict(ranked[1].parts)


def test_later_snippets_rank_higher_when_content_is_equal() -> None:
    text = "def helper(value):\n    return value * 2\n"
    older, newer = _chunk(text, 0), _chunk(text, 1)
    ranked = rank_chunks([older, newer], "helper(3)", snippet_count=2)
    assert ranked[0].chunk is newer
    assert dict(ranked[0].parts)["recency"] > dict(ranked[1].parts)["recency"]


def test_file_mentioned_in_the_prompt_gets_the_path_part() -> None:
    mentioned = _chunk("X = 1\n", 0, path="src/settings.py")
    other = _chunk("Y = 2\n", 0, path="src/other.py")
    ranked = rank_chunks([other, mentioned], "what is in settings.py?")
    assert ranked[0].chunk is mentioned
    assert dict(ranked[0].parts)["path"] == 0.3


def test_same_language_gets_the_language_part() -> None:
    python = _chunk("value = 1\n", 0, language="python")
    go = _chunk("value := 1\n", 0, path="a.go", language="go")
    ranked = rank_chunks([go, python], "value", language="python")
    assert ranked[0].chunk is python
    assert "language" not in dict(ranked[1].parts)


@pytest.mark.parametrize("prompt", ["load_config(path)", "nothing in common here", ""])
def test_score_is_the_sum_of_its_parts(prompt: str) -> None:
    chunks = [_chunk(t, i) for i, t in enumerate(FILLER)]
    for ranked in rank_chunks(chunks, prompt, symbols=["render"], language="python"):
        assert ranked.score == pytest.approx(sum(value for _, value in ranked.parts))
        assert 0.0 <= dict(ranked.parts)["bm25"] <= 1.0


def test_query_weights_symbols_double() -> None:
    query = build_query("result = compute(x)", symbols=["parse_config"])
    assert query.weights["parse"] == 2.0
    assert query.weights["compute"] == 1.0


def test_query_reads_the_start_of_the_suffix() -> None:
    assert "finalize" in build_query("x = 1", suffix="\nfinalize(x)\n").weights


def test_no_chunks_rank_to_nothing() -> None:
    assert rank_chunks([], "anything") == []


def test_a_context_ranked_again_for_new_queries_ranks_as_if_seen_first() -> None:
    chunks = [_chunk(text, i) for i, text in enumerate(FILLER * 3)]
    queries = ["page = render(", "cache.get(key", "smtp.deliver(mail", "html = template"]
    session = PipelineCache(8 << 20).session()  # one context, cached after the first query
    warm = [rank_chunks(chunks, query, cache=session) for query in queries]
    for query, ranked in zip(queries, warm, strict=True):
        assert rank_chunks(chunks, query) == ranked, query


# --- code signals -------------------------------------------------------------------------

ALIKE = "def helper(value):\n    return value + 1\n"


def _order(ranked: list[Ranked]) -> list[str | None]:
    return [r.chunk.path for r in ranked]


def test_the_module_named_at_the_cursor_ranks_its_file_first() -> None:
    chunks = [_chunk(ALIKE, 0, "pkg/_compat.py"), _chunk(ALIKE, 1, "pkg/other.py")]
    ranked = rank_chunks(chunks, "x = _compat.", language="python")
    assert _order(ranked)[0] == "pkg/_compat.py"
    assert dict(ranked[0].parts)["module"] == 1.0
    plain = rank_chunks(chunks, "x = ", language="python")
    assert _order(plain)[0] == "pkg/other.py"  # recency decides without a module at the cursor
    assert all("module" not in dict(r.parts) for r in plain)


def test_a_file_the_prompt_imports_gets_the_imports_part() -> None:
    chunks = [_chunk(ALIKE, 0, "pkg/_make.py"), _chunk(ALIKE, 1, "pkg/other.py")]
    ranked = rank_chunks(chunks, "from ._make import attrib\n\nx = ", language="python")
    assert _order(ranked)[0] == "pkg/_make.py"
    assert dict(ranked[0].parts)["imports"] == WEIGHT_IMPORTS
    assert "imports" not in dict(ranked[1].parts)


def test_a_chunk_defining_a_name_the_suffix_needs_ranks_first() -> None:
    defining = _chunk("def offset(items):\n    return len(items)\n", 0, "a.py")
    other = _chunk("def width(items):\n    return len(items)\n", 1, "b.py")
    prompt = "def total(items):\n    n = "
    ranked = rank_chunks([defining, other], prompt, suffix="\n    return offset(items)\n")
    assert _order(ranked)[0] == "a.py"
    assert dict(ranked[0].parts)["wanted"] == WEIGHT_WANTED
    ranked = rank_chunks([defining, other], prompt, suffix="\n    return n\n")
    assert _order(ranked)[0] == "b.py"


def test_a_chunk_repeating_the_prompt_ranks_below_new_code() -> None:
    seen = "def helper(value):\n    return value + 1\n"
    new = "def helper2(value):\n    return value - 1\n"
    chunks = [_chunk(new, 0, "b.py"), _chunk(seen, 1, "a.py")]
    ranked = rank_chunks(chunks, f"{seen}\nx = helper(", language="python")
    assert _order(ranked)[0] == "b.py"
    assert dict(ranked[1].parts)["repeats"] == WEIGHT_REPEATS
    assert "repeats" not in dict(ranked[0].parts)


def test_lexical_weights_leave_the_code_signals_out() -> None:
    chunks = [_chunk(ALIKE, 0, "pkg/_compat.py")]
    ranked = rank_chunks(chunks, f"{ALIKE}import _compat\n_compat.", weights=LEXICAL)
    names = set(dict(ranked[0].parts))
    assert names.isdisjoint({"module", "imports", "wanted", "repeats"})


def test_weights_of_one_signal_rank_by_that_signal_alone() -> None:
    chunks = [_chunk("def render(page): pass\n", 0), _chunk("x = 1\n", 1, "b.py")]
    ranked = rank_chunks(chunks, "render(", weights=Weights.only("recency"))
    assert _order(ranked) == ["b.py", "a.py"]
    assert [name for name, _ in ranked[0].parts] == ["recency"]


def test_a_chunk_defining_names_the_prompt_never_mentions_gets_the_new_part() -> None:
    known = _chunk("def option(value):\n    return value\n", 1, "a.py")  # more recent
    unknown = _chunk("def make_pass(value):\n    return option\n", 0, "b.py")
    prompt = "from .decorators import option\nfrom .x import "
    ranked = rank_chunks([unknown, known], prompt)
    assert _order(ranked) == ["b.py", "a.py"]
    assert dict(ranked[0].parts)["new"] == WEIGHT_NEW
    assert "new" not in dict(ranked[1].parts)
    assert _order(rank_chunks([unknown, known], prompt, weights=Weights(new=0.0))) == [
        "a.py",
        "b.py",
    ]


def test_every_chunk_of_a_file_defining_a_name_the_open_import_lists_gets_the_listed_part() -> None:
    actions, store = "src/types/actions.ts", "src/types/store.ts"
    head = _chunk("export type Action = {\n  type: string\n}\n", 0, actions, "ts")
    rest = _chunk("export interface UnknownAction {\n  x: unknown\n}\n", 1, actions, "ts")
    other = _chunk("export interface Store {\n  x: unknown\n}\n", 2, store, "ts")
    ranked = rank_chunks([head, rest, other], "import { Action, ", language="ts")
    parts = {r.chunk.id: dict(r.parts) for r in ranked}
    assert parts[head.id]["listed"] == parts[rest.id]["listed"] == WEIGHT_LISTED
    assert "listed" not in parts[other.id]
    assert _order(ranked)[-1] == "src/types/store.ts"  # the most recent, but not listed


def test_each_further_chunk_of_a_file_loses_the_same_file_part() -> None:
    chunks = [_chunk(f"def helper_{i}(value):\n    return value\n", i, "a.py") for i in range(3)]
    chunks.append(_chunk("def helper_9(value):\n    return value\n", 0, "b.py"))
    ranked = rank_chunks(chunks, "x = helper(", language="python")
    same = [dict(r.parts).get("same_file", 0.0) for r in ranked if r.chunk.path == "a.py"]
    assert same == [0.0, WEIGHT_SAME_FILE, 2 * WEIGHT_SAME_FILE]
    assert _order(ranked)[:2] == ["a.py", "b.py"]  # the second file before the file's second
    for entry in ranked:
        assert entry.score == pytest.approx(sum(value for _, value in entry.parts))
    unspread = rank_chunks(chunks, "x = helper(", language="python", weights=Weights(same_file=0))
    assert _order(unspread)[:3] == ["a.py"] * 3
