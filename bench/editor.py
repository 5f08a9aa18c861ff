"""`python -m bench.editor`: completion while typing, through the CM4 and straight to llama-server.

A scripted typing session over real code (this repository's own modules): five context
files sent as an editor's ring of chunks, the current file's last ~1 KB as the prefix, a
line typed a few characters per request that calls functions of the context, one chunk
added to the ring mid-way (as llama.vim's ring does), and one switch to another file. Each
keystroke is sent, one after the other, by three clients:

- ``direct``: a llama.vim-like client on llama-server's own /infill (the same FIM model,
  ``id_slot`` 0, ``cache_prompt``), the reference;
- ``infill``: the same bodies through the CM4's /infill;
- ``complete``: the same text through the CM4's /v1/complete/stream (``context``, ``suffix``
  and a ``session``), the seed's API;
- ``replay``: each prompt the CM4's /infill built (with one backend) sent right after it,
  straight to another llama-server's /completion: the like-for-like reference under the
  same load, since llama-server's own /infill keeps no ``input_extra`` at all with
  2,048-token slots (``n_ctx - n_batch``).

For each, per keystroke: time to first token (prompt processing plus one token, as
bench/client.py's `Stream` defines it for every benchmark; streamed, ``n_predict`` 4, no
end-of-generation, so every request makes tokens) and the prompt
tokens the backend processed (``timings.prompt_n``, or ``prompt_tokens - cached_tokens``);
then the session's medians over the warm keystrokes (all but the first of each file), its
cache hit ratio, and how many backends loaded the model (cold starts). The CM4's clients
run with one backend and with two (every backend 1 thread, 2 slots of 2,048 tokens, as the
lab). Results: a table on stdout, JSON in bench/results/editor.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cerebrum.sse_reader import iter_events

from bench.client import Shape, Stream
from harness.llama_server import LlamaServer
from harness.orchestrator import Orchestrator, lab_models, orchestrator_env
from harness.paths import ROOT
from harness.ports import free_port

MODEL = "smollm2-135m"  # the lab's FIM model (harness/assets.py marks its FIM tokens)
ALIAS = "smol-fim"
SLOT = 2048
RESULTS = Path(__file__).resolve().parent / "results"
CONTEXT_FILES = (
    "app/cerebrum/core/router.py",
    "app/cerebrum/core/breaker.py",
    "app/cerebrum/core/limiter.py",
    "app/cerebrum/api/sse.py",
    "app/cerebrum/core/stats.py",
)
LATE_FILE = "app/cerebrum/core/documents.py"  # joins the ring mid-way
EDITED = ("app/cerebrum/api/journey.py", "app/cerebrum/api/routes/llama.py")
TYPED = "        backend = self.choose(urls, exclude=tried, document=document)"
SAMPLING = {"samplers": ["top_k", "top_p"], "top_k": 40, "top_p": 0.9, "ignore_eos": True}


@dataclass(frozen=True, slots=True)
class Keystroke:
    prefix: str
    line: str
    suffix: str
    extra: tuple[dict[str, str], ...]
    first_of_file: bool


@dataclass(slots=True)
class Sample:
    ttft_ms: float
    processed: int
    prompt: int


@dataclass(slots=True)
class Session:
    client: str
    backends: int
    samples: list[Sample] = field(default_factory=list)
    warm: list[bool] = field(default_factory=list)
    cold_starts: int = 0

    def summary(self) -> dict[str, Any]:
        warm = [s for s, is_warm in zip(self.samples, self.warm, strict=True) if is_warm]
        prompt = sum(s.prompt for s in self.samples)
        processed = sum(s.processed for s in self.samples)
        return {
            "client": self.client,
            "backends": self.backends,
            "warm_ttft_ms_median": round(statistics.median(s.ttft_ms for s in warm), 1),
            "warm_processed_median": statistics.median(s.processed for s in warm),
            "cache_hit_ratio": round(1 - processed / prompt, 3) if prompt else None,
            "cold_starts": self.cold_starts,
        }


def ring(path: str, size: int = 64) -> list[dict[str, str]]:
    """A file as an editor's ring chunks: its first `size`-line pieces (llama.vim's default)."""
    lines = (ROOT / path).read_text().splitlines(keepends=True)
    return [{"filename": path, "text": "".join(lines[i : i + size])} for i in (0, size)]


def script() -> list[Keystroke]:
    """The typing session: a line typed 3-4 characters at a time in one file, a chunk
    added to the ring half-way, then the same line in another file."""
    base = tuple(chunk for path in CONTEXT_FILES for chunk in ring(path))[:8]
    late = (*base, *ring(LATE_FILE)[:1])
    keystrokes = []
    for number, path in enumerate(EDITED):
        text = (ROOT / path).read_text()
        prefix = text[-1024:]
        prefix = prefix[prefix.index("\n") + 1 :]
        cuts = list(range(12, len(TYPED) + 1, 4))
        for step, cut in enumerate(cuts):
            extra = late if (number or step >= len(cuts) // 2) else base
            keystrokes.append(Keystroke(prefix, TYPED[:cut], "\n", extra, step == 0))
    return keystrokes


def infill_body(stroke: Keystroke, model: str) -> dict[str, Any]:
    return {
        "id_slot": 0, "input_prefix": stroke.prefix, "input_suffix": stroke.suffix,
        "input_extra": list(stroke.extra), "prompt": stroke.line, "n_predict": 4,
        "stream": True, "cache_prompt": True, "model": model, **SAMPLING,
    }  # fmt: skip


def complete_body(stroke: Keystroke) -> dict[str, Any]:
    context = [{"path": c["filename"], "text": c["text"]} for c in stroke.extra]
    return {
        "prompt": stroke.prefix + stroke.line, "suffix": stroke.suffix, "context": context,
        "max_tokens": 4, "model": ALIAS, "session": "bench-editor", "language": "python",
    }  # fmt: skip


def timed(
    client: httpx.Client, path: str, body: dict[str, Any], prompts: list[str] | None = None
) -> Sample:
    """Time to first token, and the prompt tokens processed (from the last event); the
    prompt the backend saw is added to `prompts` when given."""
    shape: Shape = "orchestrator" if path == "/v1/complete/stream" else "direct"
    result = Stream(sent_at=time.perf_counter())
    with client.stream("POST", path, json=body) as response:
        result.status = response.status_code
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.read()[:300]!r}")
        for data in iter_events(response):
            result.record(json.loads(data), shape, time.perf_counter())
    result.end(time.perf_counter())
    if result.error is not None or result.ttft is None or result.last is None:
        raise SystemExit(f"{path}: {result.error}")
    last = result.last
    if "timings" in last:  # llama-server's shape
        prompt, processed = last["tokens_evaluated"], last["timings"]["prompt_n"]
    else:  # the seed's done event
        prompt, processed = last["prompt_tokens"], last["prompt_tokens"] - last["cached_tokens"]
    if prompts is not None:
        prompts.append(last["prompt"])
    return Sample(round(result.ttft * 1000, 1), processed, prompt)


def loaded(server: LlamaServer) -> bool:
    listing = httpx.get(f"{server.url}/models", headers=server.headers, timeout=5).json()
    return any(e["id"] == MODEL and e.get("status", {}).get("value") == "loaded"
               for e in listing["data"])  # fmt: skip


def run(
    client_name: str, servers: list[LlamaServer], workdir: Path, replay: LlamaServer | None = None
) -> list[Session]:
    """One typing session of `client_name` against fresh backends (nothing cached). With
    `replay` (the CM4's /infill only), each keystroke's prompt, as the CM4 built it, is then
    sent straight to that llama-server's /completion: the same prompts under the same load,
    one keystroke after the other, so the difference is what the CM4 adds."""
    for server in [*servers, *([replay] if replay else [])]:
        server.stop()
        server.start()
    session = Session(client_name, len(servers))
    replayed = Session("replay", 1)
    with ExitStack() as stack:
        if client_name == "direct":
            http = stack.enter_context(_direct(servers[0]))
        else:
            port = free_port()
            env = orchestrator_env(
                ",".join(s.url for s in servers), servers[0].api_key, port, lab_models(SLOT)
            )
            orchestrator = Orchestrator(env=env, workdir=workdir / client_name, port=port)
            (workdir / client_name).mkdir(parents=True, exist_ok=True)
            orchestrator.start()
            stack.callback(orchestrator.stop)
            http = stack.enter_context(orchestrator.client(timeout=300))
        straight = stack.enter_context(_direct(replay)) if replay else None
        for stroke in script():
            prompts: list[str] = []
            if client_name == "complete":
                sample = timed(http, "/v1/complete/stream", complete_body(stroke))
            elif client_name == "direct":
                sample = timed(http, "/infill", infill_body(stroke, MODEL))
            else:
                sample = timed(http, "/infill", infill_body(stroke, ""), prompts)
            session.samples.append(sample)
            session.warm.append(not stroke.first_of_file)
            if straight is not None:
                body = {"prompt": prompts[0], "n_predict": 4, "stream": True,
                        "cache_prompt": True, "model": MODEL, **SAMPLING}  # fmt: skip
                replayed.samples.append(timed(straight, "/completion", body))
                replayed.warm.append(not stroke.first_of_file)
    session.cold_starts = sum(loaded(server) for server in servers)
    if replay is None:
        return [session]
    replayed.cold_starts = int(loaded(replay))
    return [session, replayed]


def _direct(server: LlamaServer) -> httpx.Client:
    """A client straight to llama-server; a new connection per request, as its router drops
    reused ones at times."""
    headers = {**server.headers, "Connection": "close"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=300)


def cache_reuse(workdir: Path) -> dict[int, int]:
    """llama-server's --cache-reuse: prompt tokens processed when a chunk leaves the middle
    of the context (chunks A-F, then the same without B), per setting (0: off)."""
    pieces = [chunk["text"] for path in CONTEXT_FILES for chunk in ring(path)][:6]
    before = "".join(f"<file_sep>{n}\n{text}" for n, text in enumerate(pieces))
    after = "".join(f"<file_sep>{n}\n{text}" for n, text in enumerate(pieces) if n != 1)
    processed = {}
    for setting in (0, 64):
        server = LlamaServer.with_lab_models(
            workdir / f"reuse{setting}", parallel=1, ctx_size=SLOT * 2, threads=1,
            cache_reuse=setting,
        )  # fmt: skip
        server.start()
        try:
            headers = {**server.headers, "Connection": "close"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=300) as http:
                for prompt in (before, after):
                    body = {"prompt": prompt + "<gh_stars>x = ", "n_predict": 1,
                            "model": MODEL, "cache_prompt": True}  # fmt: skip
                    answer = http.post("/completion", json=body).json()
            processed[setting] = answer["timings"]["prompt_n"]
        finally:
            server.stop()
    return processed


def servers(workdir: Path, count: int, api_key: str | None = None) -> Iterator[LlamaServer]:
    for number in range(count):
        settings: dict[str, Any] = {"parallel": 2, "ctx_size": 2 * SLOT, "threads": 1}
        if api_key:
            settings["api_key"] = api_key
        yield LlamaServer.with_lab_models(workdir / f"backend{number}", **settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.editor", description=__doc__)
    parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-editor-") as tmp:
        workdir = Path(tmp)
        first = next(servers(workdir, 1))
        both = [first, *servers(workdir / "second", 1, first.api_key)]
        spare = next(servers(workdir / "replay", 1))
        try:
            for client_name, backends in (("direct", [first]), ("infill", [first]),
                                          ("complete", [first]), ("infill", both),
                                          ("complete", both)):  # fmt: skip
                replay = spare if client_name == "infill" and len(backends) == 1 else None
                for session in run(client_name, backends, workdir, replay):
                    results.append((session, session.summary()))
        finally:
            for server in [*both, spare]:
                server.stop()
        reuse = cache_reuse(workdir)
    print_table([summary for _, summary in results], results)
    print(f"\n--cache-reuse, a chunk leaving the middle of the context: prompt tokens processed "
          f"{reuse[0]} with 0 (off), {reuse[64]} with 64")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    sessions = [{"summary": summary, "samples": [asdict(s) for s in session.samples]}
                for session, summary in results]  # fmt: skip
    (RESULTS / "editor.json").write_text(
        json.dumps({"sessions": sessions, "cache_reuse_processed": reuse}, indent=1)
    )
    return 0


def print_table(summaries: list[dict[str, Any]], results: list[tuple[Session, Any]]) -> None:
    print("per keystroke: time to first token ms / prompt tokens processed")
    for session, _ in results:
        cells = " ".join(f"{s.ttft_ms:.0f}/{s.processed}" for s in session.samples)
        print(f"  {session.client:>8} x{session.backends}: {cells}")
    print()
    print(f"{'client':>10} {'backends':>8} {'warm TTFT p50 ms':>17} {'processed p50':>14} "
          f"{'cache hit':>9} {'cold starts':>11}")  # fmt: skip
    for summary in summaries:
        print(f"{summary['client']:>10} {summary['backends']:>8} "
              f"{summary['warm_ttft_ms_median']:>17} {summary['warm_processed_median']:>14} "
              f"{summary['cache_hit_ratio']:>9} {summary['cold_starts']:>11}")  # fmt: skip
    reference = {s["client"]: s["warm_ttft_ms_median"] for s in summaries if s["backends"] == 1}
    for summary in summaries:
        if summary["client"] in ("infill", "complete"):
            ratio = summary["warm_ttft_ms_median"] / reference["replay"]
            print(f"  {summary['client']} x{summary['backends']}: {ratio:.2f}x straight to "
                  "llama-server with the same prompts (replay)")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
