"""Cross-file completion: does the pipeline put the code that defines the next identifier
into the lab model's prompt, and does the model then complete it?

Cases come from real multi-file packages at pinned versions (bench/crossfile_data.py: a
tuning set and a held-out set of different packages). The rule that makes a case:

- a *definition* is a line that introduces a name (`def`/`class`, `function`, `const`/
  `let`/`var`, `interface`/`type`/`enum`, optionally after `export`/`default`/`async`, or a
  module-level `name =` in Python); only names of at least MIN_NAME characters defined in
  exactly one file of the package count;
- the cursor stands just before the first occurrence in a file, in code (Python: a name
  token to Python's tokenizer; JavaScript/TypeScript: not on a comment line nor after a
  quote on its line), of
  such a name, when the name is defined in another file and not in this one, so it appears
  nowhere before the cursor; at most CASES_PER_PACKAGE cases a package, one per file and
  name, drawn with a seeded generator;
- the request is what llama.vim sends (its defaults: n_prefix 256 lines before the cursor
  and the current line up to it, n_suffix 64 lines after, n_predict 128) while the rest of
  the line is still to be typed (the suffix starts at the next line, as in CrossCodeEval,
  so the identifier is not in it unless a later line uses it again), and its ring is
  RING_CHUNKS chunks picked as llama.vim's `s:pick_chunk` picks them with ring_chunk_size
  64 (a random run of 33 lines out of the 65 around a line): one around the definition (so
  that it holds the defining line), SIMILAR ones most alike the code at the cursor by
  identifier Jaccard, the rest at random, none of them defining the name, in random order;
- the budget is the lab's: each lab model slot has 2,048 tokens (inventory/lab), /infill's
  max_tokens is the request's n_predict, and `build_prompt` makes the rest of the budget
  (ModelProfile.margin_tokens) and the share of prompt and suffix (trim_prompt) as it does
  for /infill.

Recall: the defining line is in the context part of the prompt `build_prompt` assembles,
in a chunk written whole or as its outline ("of which whole": the defining chunk whole).
Choosers, each the real pipeline with the ranker's weights (`ranker.Weights`) set so: ring
order (recency only: what llama.vim sends, newest first), BM25 top-k (BM25 only), the
lexical ranker (`ranker.LEXICAL`), the code-aware ranker (`ranker.CODE_AWARE`, the default).
With --model, exact match of the identifier from the lab model (llama-server from the
harness) for MODEL_CASES cases: no context, the defining chunk alone (oracle), the ring.

With --misses, each tuning case the code-aware ranker misses, with the plan's report of the
chunks ranked above the defining one and of the defining one (the held-out set's misses are
not printed: it is not tuned on).

    .venv/bin/python -m bench.crossfile [--model gemma|smol-fim] [--cases N] [--seed S] [--timing]
                                        [--misses]
"""

from __future__ import annotations

import argparse
import io
import random
import re
import sys
import tempfile
import time
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cerebrum.retrieval import (
    FimTokens,
    ModelProfile,
    PromptPlan,
    PromptRequest,
    Snippet,
    build_prompt,
)
from cerebrum.retrieval.lexicon import identifiers
from cerebrum.retrieval.ranker import CODE_AWARE, LEXICAL, Weights

N_PREFIX = 256  # llama.vim's defaults
N_SUFFIX = 64
N_PREDICT = 128
RING_CHUNKS = 16  # llama.vim's ring_n_chunks
RING_CHUNK_SIZE = 64  # ... and ring_chunk_size
SIMILAR = 7  # lexically similar chunks in a ring; the others are random
CASES_PER_PACKAGE = 40
MIN_NAME = 4
CONTEXT_SIZE = 2048  # a lab model slot (inventory/lab/group_vars/cm4.yml)
MODEL_CASES = 30
TIMING_RUNS = 12
MODEL_PREDICT = 12  # tokens asked of the model: enough for one identifier
MODEL_TIMEOUT = 600  # seconds for one answer: prompt processing slows down a lot on a busy machine
SEED = 27

CHOOSERS: dict[str, Weights] = {
    "ring order": Weights.only("recency"),
    "BM25 top-k": Weights.only("bm25"),
    "lexical ranker": LEXICAL,
    "code-aware ranker": CODE_AWARE,
}

_DEFINITION = re.compile(
    r"^[ \t]*(?:export[ \t]+)?(?:default[ \t]+)?(?:async[ \t]+)?"
    r"(?:def|class|function\*?|const|let|var|interface|type|enum)[ \t]+([A-Za-z_]\w*)"
    r"|^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)",
    re.MULTILINE,
)
_WORD = re.compile(r"[A-Za-z_]\w*+")
_COMMENT_STARTS = ("#", "//", "*", "/*")
_QUOTES = frozenset("'\"`")


@dataclass(frozen=True, slots=True)
class Case:
    package: str
    path: str  # the file being edited
    prefix: str  # what llama.vim sends before the cursor
    suffix: str  # ... and after it
    name: str  # the identifier at the cursor
    defined_in: str
    definition: str  # the line that defines the name
    ring: tuple[Snippet, ...]
    defining: Snippet  # the ring's chunk that holds the definition


# --- the case rule ----------------------------------------------------------------------


def definitions(text: str) -> dict[str, int]:
    """Names the file defines -> the line index of the first definition."""
    found: dict[str, int] = {}
    for match in _DEFINITION.finditer(text):
        name = match.group(1) or match.group(2)
        found.setdefault(name, text.count("\n", 0, match.start()))
    return found


def candidates(files: Mapping[str, str]) -> list[tuple[str, int, str, str, int]]:
    """Every place the case rule allows: (path, cursor offset, name, defining path, line of
    the definition), in file order."""
    defined = {path: definitions(text) for path, text in files.items()}
    owners: dict[str, list[str]] = {}
    for path, names in defined.items():
        for name in names:
            owners.setdefault(name, []).append(path)
    found: list[tuple[str, int, str, str, int]] = []
    for path, text in files.items():
        seen: set[str] = set()
        comment_lines = _comment_lines(text)
        code = _code_offsets(path, text)
        for match in _WORD.finditer(text):
            name = match.group()
            if code is not None and match.start() not in code:
                seen.add(name)  # in a string: it counts as before the cursor
                continue
            if name in seen:
                continue
            seen.add(name)
            owner = owners.get(name, ())
            line_start = text.rfind("\n", 0, match.start()) + 1
            if (
                len(name) >= MIN_NAME
                and (code is not None or not _QUOTES.intersection(text[line_start : match.start()]))
                and len(owner) == 1
                and owner[0] != path
                and text.count("\n", 0, match.start()) not in comment_lines
            ):
                found.append((path, match.start(), name, owner[0], defined[owner[0]][name]))
    return found


def _code_offsets(path: str, text: str) -> set[int] | None:
    """Offsets of the names Python's tokenizer reads as code (not in strings or comments);
    None for other languages or a file it cannot read, where comment lines and lines with
    a quote before the name are left out instead."""
    if not path.endswith(".py"):
        return None
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    return {
        starts[token.start[0] - 1] + token.start[1]
        for token in tokens
        if token.type == tokenize.NAME
    }


def _comment_lines(text: str) -> set[int]:
    return {
        index
        for index, line in enumerate(text.split("\n"))
        if line.lstrip().startswith(_COMMENT_STARTS)
    }


def cursor_request(text: str, offset: int) -> tuple[str, str]:
    """(prefix, suffix) as llama.vim sends them for a cursor at `offset` where the rest of
    the line is still to be typed: the suffix starts with the next line."""
    line_start = text.rfind("\n", 0, offset) + 1
    before = text[:line_start].split("\n")[:-1][-N_PREFIX:]
    prefix = "".join(line + "\n" for line in before) + text[line_start:offset]
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    after = text[line_end + 1 :].split("\n")[:N_SUFFIX]
    return prefix, "\n" + "\n".join(after)


def pick_chunk(lines: Sequence[str], line: int, rng: random.Random) -> tuple[int, list[str]]:
    """llama.vim's s:pick_chunk on the ring_chunk_size lines around `line`: (first line
    index, the chunk's lines)."""
    half = RING_CHUNK_SIZE // 2
    start = max(0, line - half)
    window = lines[start : min(line + half + 1, len(lines))]
    if len(window) + 1 < RING_CHUNK_SIZE:
        return start, list(window)
    first = rng.randint(0, max(0, len(window) - half))
    last = min(first + half, len(window))
    return start + first, list(window[first : last + 1])


def build_cases(
    files: Mapping[str, str], package: str, rng: random.Random, limit: int = CASES_PER_PACKAGE
) -> list[Case]:
    """Up to `limit` cases from one package's files (see the module's docstring)."""
    places = candidates(files)
    rng.shuffle(places)
    chosen: list[Case] = []
    used: set[tuple[str, str]] = set()
    split = {path: text.split("\n") for path, text in files.items()}
    for path, offset, name, owner, line in places:
        if len(chosen) >= limit:
            break
        if (path, name) in used:
            continue
        used.add((path, name))
        prefix, suffix = cursor_request(files[path], offset)
        ring = _ring(split, owner, line, name, prefix, rng)
        if ring is None:
            continue
        snippets, defining = ring
        chosen.append(
            Case(package, path, prefix, suffix, name, owner, split[owner][line], snippets, defining)
        )
    return chosen


def _ring(
    split: Mapping[str, list[str]],
    owner: str,
    line: int,
    name: str,
    prefix: str,
    rng: random.Random,
) -> tuple[tuple[Snippet, ...], Snippet] | None:
    lines = split[owner]
    for _ in range(64):  # llama.vim's pick is random: draw until it holds the definition
        start, chunk = pick_chunk(lines, line, rng)
        if start <= line < start + len(chunk):
            break
    else:
        return None
    defining = Snippet("\n".join(chunk) + "\n", owner)
    near = set(identifiers("\n".join(prefix.split("\n")[-RING_CHUNK_SIZE:])))
    pool: dict[str, Snippet] = {}
    for path, file_lines in split.items():
        for center in range(0, len(file_lines), RING_CHUNK_SIZE // 2):
            _, picked = pick_chunk(file_lines, center, rng)
            text = "\n".join(picked) + "\n"
            if len(picked) >= 3 and name not in definitions(text) and text.strip():
                pool.setdefault(text, Snippet(text, path))
    candidates_ = sorted(pool.values(), key=lambda s: (-_jaccard(near, s.text), s.path or ""))
    similar = candidates_[:SIMILAR]
    rest = candidates_[SIMILAR:]
    random_ones = rng.sample(rest, min(len(rest), RING_CHUNKS - 1 - len(similar)))
    ring = [defining, *similar, *random_ones]
    rng.shuffle(ring)
    return tuple(ring), defining


def _jaccard(words: set[str], text: str) -> float:
    other = set(identifiers(text))
    union = len(words | other)
    return len(words & other) / union if union else 0.0


# --- measuring --------------------------------------------------------------------------


def lab_profile(model: str = "smol-fim") -> ModelProfile:
    """The lab's profile for `model`: smol-fim is what /infill uses (SmolLM2 with the FIM
    tokens harness.assets marks), gemma the default completion model."""
    if model == "gemma":
        return ModelProfile(CONTEXT_SIZE, "completion")
    from harness.assets import MODELS

    marks = next(m.fim for m in MODELS if m.fim is not None)
    return ModelProfile(CONTEXT_SIZE, "fim", FimTokens(**marks.spelling))


def plan_for(
    case: Case, profile: ModelProfile, context: Iterable[Snippet], weights: Weights = CODE_AWARE
) -> PromptPlan:
    request = PromptRequest(
        prompt=case.prefix,
        suffix=case.suffix,
        context=tuple(context),
        max_tokens=N_PREDICT,
        trim_prompt=True,
    )
    return build_prompt(request, profile, weights=weights)


def context_part(plan: PromptPlan, profile: ModelProfile) -> str:
    """The part of the assembled prompt that holds the context chunks."""
    prompt = plan.prompt or ""
    if profile.fim is not None:
        return prompt.split(profile.fim.prefix, 1)[0]
    return prompt  # sections, then the prompt (which never holds the name)


def recalled(case: Case, plan: PromptPlan, profile: ModelProfile) -> bool:
    """Whether the defining line made it into the prompt's context."""
    return case.definition.strip() in context_part(plan, profile)


def recall_table(sets: Mapping[str, Sequence[Case]], profile: ModelProfile) -> dict[str, object]:
    rows: dict[str, object] = {}
    for set_name, cases in sets.items():
        row: dict[str, object] = {"cases": len(cases)}
        for chooser, weights in CHOOSERS.items():
            hits = sum(recalled(c, plan_for(c, profile, c.ring, weights), profile) for c in cases)
            row[chooser] = hits
        row["whole"] = sum(_whole(c, plan_for(c, profile, c.ring), profile) for c in cases)
        room = [_room(plan_for(c, profile, c.ring)) for c in cases]
        row["room_tokens_p50"] = sorted(room)[len(room) // 2] if room else 0
        rows[set_name] = row
    return rows


def _whole(case: Case, plan: PromptPlan, profile: ModelProfile) -> bool:
    """Whether the defining line is in the prompt's context inside a whole chunk (not an
    outline: the chunk's report has no OUTLINE_PART)."""
    from cerebrum.retrieval.assembler import OUTLINE_PART
    from cerebrum.retrieval.chunker import chunk_snippets

    chunks = chunk_snippets([case.defining])
    defining = {chunk.id for chunk in chunks if case.definition.strip() in chunk.text}
    return recalled(case, plan, profile) and any(
        report.id in defining and OUTLINE_PART not in dict(report.score_parts)
        for report in plan.chunks_used
    )


def _room(plan: PromptPlan) -> int:
    return plan.budget_tokens - plan.own_tokens


def exact_match(
    cases: Sequence[Case], model: str, profile: ModelProfile
) -> dict[str, dict[str, int]]:
    """Exact match of the identifier from the lab model (llama-server from the harness) with
    no context, the defining chunk alone, and the ring through the code-aware ranker."""
    import httpx

    from harness.llama_server import LlamaServer
    from harness.orchestrator import LAB_ALIASES, LAB_FIM_ALIASES

    router_id = {**LAB_ALIASES, **LAB_FIM_ALIASES}[model]
    results: dict[str, dict[str, int]] = {
        kind: {"hits": 0, "in_prompt": 0} for kind in ("no context", "oracle", "CM4")
    }
    with tempfile.TemporaryDirectory() as workdir:
        server = LlamaServer.with_lab_models(Path(workdir), ctx_size=2 * CONTEXT_SIZE)
        server.start()
        try:
            headers = {**server.headers, "Connection": "close"}  # its router drops reused ones
            with httpx.Client(
                base_url=server.url, headers=headers, timeout=MODEL_TIMEOUT
            ) as client:
                for number, case in enumerate(cases, 1):
                    print(
                        f"[crossfile] {model}: case {number}/{len(cases)} {time.strftime('%X')}",
                        file=sys.stderr,
                    )
                    for kind, context in (
                        ("no context", ()),
                        ("oracle", (case.defining,)),
                        ("CM4", case.ring),
                    ):
                        plan = plan_for(case, profile, context)
                        results[kind]["in_prompt"] += recalled(case, plan, profile)
                        body = {
                            "model": router_id, "prompt": plan.prompt, "n_predict": MODEL_PREDICT,
                            "temperature": 0, "cache_prompt": False,
                        }  # fmt: skip
                        answer = client.post("/completion", json=body).json()["content"]
                        results[kind]["hits"] += _matches(answer, case.name)
                    tally = ", ".join(f"{k} {r['hits']}" for k, r in results.items())
                    print(f"[crossfile] {model}: after {number}: {tally}", file=sys.stderr)
        except httpx.TransportError:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            server.stop()
    return results


def _matches(answer: str, name: str) -> bool:
    """The completion starts with the identifier, and the identifier ends there."""
    found = _WORD.match(answer)
    return found is not None and found.group() == name


def timing(cases: Sequence[Case], profile: ModelProfile) -> dict[str, dict[str, float]]:
    """build_prompt's time per request (ms, p50 and p99), the lexical weights beside the
    code-aware ones: on the rings (16 chunks, no cache: every chunk new), and on
    bench.pipeline's 1 MB request (its profile), cold (a new PipelineCache each run) and warm
    (one shared, the prompt's last line changed each run), TIMING_RUNS runs each."""
    from bench.pipeline import PROFILE, request

    rings = [
        PromptRequest(c.prefix, suffix=c.suffix, context=c.ring, max_tokens=N_PREDICT,
                      trim_prompt=True)
        for c in cases
    ]  # fmt: skip
    megabyte = [request(1 << 20, run) for run in range(TIMING_RUNS + 1)]
    rows: dict[str, dict[str, float]] = {}
    for name, weights in (("lexical", LEXICAL), ("code-aware", CODE_AWARE)):
        rows[f"16 chunks, {name}"] = _timed(rings, profile, weights, shared=False)
        rows[f"1 MB cold, {name}"] = _timed(megabyte[1:], PROFILE, weights, shared=False)
        rows[f"1 MB warm, {name}"] = _timed(megabyte, PROFILE, weights, shared=True)
    return rows


def _timed(
    requests: Sequence[PromptRequest], profile: ModelProfile, weights: Weights, shared: bool
) -> dict[str, float]:
    """p50 and p99 (ms) of build_prompt on each request: with one shared PipelineCache (the
    first request only warms it up) or a new one each time."""
    from cerebrum.retrieval import PipelineCache

    from bench.pipeline import CACHE_BYTES
    from bench.stats import Summary

    cache = PipelineCache(CACHE_BYTES)
    times: list[float] = []
    for request in requests:
        if not shared:
            cache = PipelineCache(CACHE_BYTES)
        started = time.perf_counter()
        build_prompt(request, profile, cache=cache, weights=weights)
        times.append(time.perf_counter() - started)
    scaled = Summary.of(times[1:] if shared else times).scaled(1000)
    return {"p50": scaled.p50, "p99": scaled.p99}


def all_cases(seed: int) -> dict[str, list[Case]]:
    from bench.crossfile_data import SETS, source_files

    rng = random.Random(seed)
    return {
        set_name: [
            case
            for package in packages
            for case in build_cases(source_files(package), package.name, rng)
        ]
        for set_name, packages in SETS.items()
    }


def print_misses(cases: Sequence[Case], profile: ModelProfile, shown: int = 4) -> None:
    """Each case the code-aware ranker misses: where the cursor is, what defines the name,
    and the report (score and parts) of the `shown` best chunks and of the defining one."""
    from cerebrum.retrieval.chunker import chunk_snippets

    for number, case in enumerate(cases):
        plan = plan_for(case, profile, case.ring)
        if recalled(case, plan, profile):
            continue
        defining = {
            chunk.id
            for chunk in chunk_snippets([case.defining])
            if case.definition.strip() in chunk.text
        }
        reports = sorted((*plan.chunks_used, *plan.chunks_dropped), key=lambda r: -r.score)
        line = case.prefix.rsplit("\n", 1)[-1].strip()
        print(f"\n#{number} {case.package} {case.path}: {line!r} -> {case.name}"
              f" (defined in {case.defined_in}; room {_room(plan)} tokens)")  # fmt: skip
        for rank, report in enumerate(reports, 1):
            if rank <= shown or report.id in defining:
                mark = "*" if report.id in defining else " "
                parts = ", ".join(f"{name} {value:.2f}" for name, value in report.score_parts)
                print(f"  {mark}{rank:>2} {report.score:5.2f} {report.path}:{report.start_line}-"
                      f"{report.end_line} {report.reason or 'used'}: {parts}")  # fmt: skip


def _print_recall(rows: Mapping[str, object]) -> None:
    header = ["set", "cases", *CHOOSERS, "of which whole", "room (tokens, p50)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for set_name, row in rows.items():
        assert isinstance(row, dict)
        cells = [set_name, str(row["cases"])]
        cells += [f"{100 * row[c] / max(row['cases'], 1):.0f} % ({row[c]})" for c in CHOOSERS]
        cells.append(f"{100 * row['whole'] / max(row['cases'], 1):.0f} % ({row['whole']})")
        cells.append(str(row["room_tokens_p50"]))
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.crossfile", description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("gemma", "smol-fim"), help="also measure exact match")
    parser.add_argument("--cases", type=int, default=MODEL_CASES, help="cases for the model")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timing", action="store_true", help="time build_prompt per request")
    parser.add_argument("--misses", action="store_true", help="print the tuning set's misses")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sets = all_cases(args.seed)
    profile = lab_profile()
    print(f"recall of the defining chunk within the budget ({CONTEXT_SIZE}-token slot, /infill)")
    _print_recall(recall_table(sets, profile))
    if args.misses:
        print_misses(sets["tuning"], profile)
    if args.timing:
        print("\nbuild_prompt per request (ms)\n| context | p50 | p99 |\n|---|---|---|")
        every = [case for cases in sets.values() for case in cases]
        for name, row in timing(every, profile).items():
            print(f"| {name} | {row['p50']:.2f} | {row['p99']:.2f} |")
    if args.model:
        model_profile = lab_profile(args.model)
        rng = random.Random(args.seed)
        for set_name, cases in sets.items():
            sample = rng.sample(cases, min(args.cases, len(cases)))
            results = exact_match(sample, args.model, model_profile)
            print(f"\nexact match, {args.model}, {set_name}, {len(sample)} cases")
            print("| context | exact match | defining line in prompt |\n|---|---|---|")
            for kind, result in results.items():
                print(f"| {kind} | {result['hits']} | {result['in_prompt']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
