"""`python -m bench.team`: a small team typing at once, through the CM4 and straight to
llama-server.

T typists (default 4, 8 and 16) type at the same time, each in its own file of this
repository with its own ring of context chunks (from two other files), sending llama.vim's
own bodies (``llama#fim`` and ``s:ring_update`` in ggml-org/llama.vim autoload/llama.vim:
``id_slot`` 0, ``input_prefix``, ``prompt``, ``input_suffix``, ``input_extra``,
``cache_prompt``, ``response_fields``; ``stream`` false): first a warm-up of its ring
(``n_predict`` 0), then a line typed a few characters per request, each request sent when
the answer to the one before came back (as llama.vim waits for its current job). The
backends are two real llama-server processes, ``--parallel 2`` each (the lab: 2 backends x
2 slots of 2,048 tokens, 1 thread each), restarted before each run so nothing is cached.

Clients:
- ``shared-key``: every typist sends the same client key to the CM4's /infill;
- ``own-key``: each typist its own key;
- ``loopback``: no key, every typist on the CM4's loopback (one client for the CM4);
- ``ideal``: each typist's bodies straight to llama-server's /infill, pinned to a slot of its
  own (typist i on backend i // 2 mod 2, slot i mod 2: past 4 typists, slots are shared).

Each in both FIM orders (``--orders``): ``psm`` (prefix, suffix, middle: llama-server's
/infill, the CM4's default) and ``spm`` (suffix first: the model's ``fim.order`` on the CM4,
``--spm-infill`` on llama-server for the ideal).

Per client and team size: answers by status (409 ``superseded`` between documents: the
target is 0), median and p90 request time, the prompt tokens each keystroke re-processed
(``timings/prompt_n``) over the warm keystrokes (all but each typist's first), and the CM4's
document figures (/v1/stats). Results: a table on stdout, JSON in bench/results/team.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.llama_server import LlamaServer
from harness.orchestrator import CLIENT_KEY, Orchestrator, lab_models, orchestrator_env
from harness.paths import ROOT
from harness.ports import free_port

MODEL = "smollm2-135m"  # the FIM-marked lab model (harness.assets), llama-server's router id
SLOT = 2048
RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS = ("shared-key", "own-key", "loopback", "ideal")
ORDERS = ("psm", "spm")
TYPED = "    result = self.handle(request, timeout=deadline)"
CUTS = (8, 14, 20, 26, 32, 38)  # characters typed at each keystroke
PREFIX_LINES = 40  # llama.vim sends up to 256 (n_prefix); fewer keep the lab's runs short
SUFFIX_LINES = 8  # ... and up to 64 (n_suffix)
CHUNK_LINES = 24  # llama.vim's chunks are up to 64 lines (ring_chunk_size)
TIMEOUT = 300.0
RESPONSE_FIELDS = [  # llama#fim's
    "content", "timings/prompt_n", "timings/prompt_ms", "timings/prompt_per_token_ms",
    "timings/prompt_per_second", "timings/predicted_n", "timings/predicted_ms",
    "timings/predicted_per_token_ms", "timings/predicted_per_second", "truncated",
    "tokens_cached",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Typist:
    number: int
    path: str  # its own file
    ring: tuple[dict[str, Any], ...]  # its ring of chunks from other files

    def warm_up(self, model: str) -> dict[str, Any]:
        """s:ring_update's body: the ring alone, nothing to generate."""
        return {
            "id_slot": 0, "input_prefix": "", "input_suffix": "", "input_extra": list(self.ring),
            "prompt": "", "n_predict": 0, "temperature": 0.0, "samplers": [], "stream": False,
            "cache_prompt": True, "t_max_prompt_ms": 1, "t_max_predict_ms": 1,
            "response_fields": [""], "model": model,
        }  # fmt: skip

    def keystroke(self, cut: int, model: str) -> dict[str, Any]:
        """llama#fim's body with TYPED[:cut] on the cursor's line."""
        lines = (ROOT / self.path).read_text().splitlines()
        row = min(len(lines), PREFIX_LINES + 20)
        prefix = "\n".join(lines[row - PREFIX_LINES : row]) + "\n"
        suffix = "\n" + "\n".join(lines[row : row + SUFFIX_LINES]) + "\n"
        return {
            "id_slot": 0, "input_prefix": prefix, "input_suffix": suffix,
            "input_extra": list(self.ring), "prompt": TYPED[:cut], "n_predict": 8, "stop": [],
            "n_indent": 4, "top_k": 40, "top_p": 0.90, "samplers": ["top_k", "top_p", "infill"],
            "stream": False, "cache_prompt": True, "t_max_prompt_ms": 500,
            "t_max_predict_ms": 250, "response_fields": RESPONSE_FIELDS, "model": model,
        }  # fmt: skip


@dataclass(slots=True)
class Answer:
    typist: int
    warm: bool  # not the typist's first keystroke
    status: int
    seconds: float
    processed: int | None  # timings/prompt_n: prompt tokens the backend did not have cached


@dataclass(slots=True)
class Run:
    client: str
    typists: int
    order: str
    max_suffix_tokens: int | None = None  # the CM4's fim.max_suffix_tokens (None: no cap)
    answers: list[Answer] = field(default_factory=list)
    documents: dict[str, Any] | None = None  # the CM4's /v1/stats "documents"

    def summary(self) -> dict[str, Any]:
        ok = [a for a in self.answers if a.status == 200]
        times = sorted(a.seconds for a in ok)
        warm = sorted(a.processed for a in ok if a.warm and a.processed is not None)
        statuses: dict[str, int] = {}
        for answer in self.answers:
            statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
        return {
            "client": self.client,
            "typists": self.typists,
            "order": self.order,
            "max_suffix_tokens": self.max_suffix_tokens,
            "keystrokes": len(self.answers),
            "statuses": statuses,
            "superseded_409": statuses.get("409", 0),
            "median_s": _round(statistics.median(times)) if times else None,
            "p90_s": _round(_p90(times)),
            "reprocessed_median": statistics.median(warm) if warm else None,
            "reprocessed_p90": _p90(warm),
            "documents": self.documents,
        }


def _p90(values: list[Any]) -> Any:
    return values[max(0, -(-len(values) * 9 // 10) - 1)] if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def team(size: int) -> list[Typist]:
    """``size`` typists, each in its own module of the orchestrator (the longest first), with
    a ring of chunks from the two modules after it."""
    modules = sorted(
        (p for p in (ROOT / "app" / "cerebrum").rglob("*.py") if p.name != "__init__.py"),
        key=lambda p: (-len(p.read_text().splitlines()), str(p)),
    )
    paths = [str(p.relative_to(ROOT)) for p in modules]
    typists = []
    for number in range(size):
        ring = tuple(
            {"text": "\n".join((ROOT / other).read_text().splitlines()[:CHUNK_LINES]) + "\n",
             "time": [1765000000, number], "filename": other}
            for other in (paths[(number + 1) % len(paths)], paths[(number + 2) % len(paths)])
        )  # fmt: skip
        typists.append(Typist(number, paths[number], ring))
    return typists


def type_along(typist: Typist, http: httpx.Client, model: str, slot: int | None) -> list[Answer]:
    """One typist's session: a warm-up, then each keystroke when the last one was answered;
    ``slot``: the typist's own ``id_slot`` (the ideal client), else llama.vim's 0."""
    answers = []
    bodies = [typist.warm_up(model), *(typist.keystroke(cut, model) for cut in CUTS)]
    for step, body in enumerate(bodies):
        if slot is not None:
            body["id_slot"] = slot
        started = time.perf_counter()
        try:
            response = http.post("/infill", content=json.dumps(body))
            status = response.status_code
            answer = response.json() if status == 200 else {}
        except httpx.HTTPError:
            status, answer = 0, {}  # no answer within TIMEOUT
        seconds = time.perf_counter() - started
        if step:  # the warm-up is not a keystroke
            warm = step > 1
            answers.append(
                Answer(typist.number, warm, status, seconds, answer.get("timings/prompt_n"))
            )
    return answers


def run(
    client: str,
    order: str,
    typists: list[Typist],
    servers: list[LlamaServer],
    workdir: Path,
    max_suffix_tokens: int | None = None,
) -> Run:
    """Every typist at once against fresh backends (nothing cached), in FIM ``order``, the
    CM4 keeping at most ``max_suffix_tokens`` of the suffix (the ideal all of it)."""
    for server in servers:
        server.stop()
        server.extra_args = ("--spm-infill",) if client == "ideal" and order == "spm" else ()
        server.start()
    cap = None if client == "ideal" else max_suffix_tokens
    result = Run(client, len(typists), order, cap)
    keys = [f"typist-{typist.number}-key" for typist in typists]
    with ExitStack() as stack:
        if client == "ideal":
            clients = [
                stack.enter_context(_direct(servers[(t.number // 2) % len(servers)]))
                for t in typists
            ]
            model = MODEL
        else:
            settings: dict[str, Any] = {"client_keys": ",".join([CLIENT_KEY, *keys])}
            if client == "loopback":
                settings["client_keys"] = None
            port = free_port()
            env = orchestrator_env(
                ",".join(s.url for s in servers), servers[0].api_key, port,
                lab_models(SLOT, fim_order=order, max_suffix_tokens=cap),
                max_in_flight=len(typists), **settings,
            )  # fmt: skip
            (workdir / client).mkdir(parents=True, exist_ok=True)
            orchestrator = Orchestrator(env=env, workdir=workdir / client, port=port)
            orchestrator.start()
            stack.callback(orchestrator.stop)
            clients = [
                stack.enter_context(_orchestrator(orchestrator, client, keys[t.number]))
                for t in typists
            ]
            model = ""  # llama.vim's default model_fim: the CM4 takes its first FIM model
        with concurrent.futures.ThreadPoolExecutor(len(typists)) as pool:
            pinned = client == "ideal"
            sessions = [
                pool.submit(type_along, t, http, model, t.number % 2 if pinned else None)
                for t, http in zip(typists, clients, strict=True)
            ]
            for session in sessions:
                result.answers.extend(session.result())
        if client != "ideal":
            stats = clients[0].get("/v1/stats").raise_for_status().json()
            result.documents = stats["documents"] | {"superseded": stats["requests"]["superseded"]}
    return result


def _direct(server: LlamaServer) -> httpx.Client:
    """Straight to llama-server; a new connection per request (its router drops reused ones)."""
    headers = {**server.headers, "Connection": "close", "Content-Type": "application/json"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT)


def _orchestrator(orchestrator: Orchestrator, client: str, key: str) -> httpx.Client:
    headers = {"Content-Type": "application/json"}
    if client == "shared-key":
        headers |= orchestrator.headers
    elif client == "own-key":
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=orchestrator.url, headers=headers, timeout=TIMEOUT)


def servers(workdir: Path, api_key: str) -> Iterator[LlamaServer]:
    """The lab's two backends: 2 slots of SLOT tokens, 1 thread, one key."""
    for number in range(2):
        yield LlamaServer.with_lab_models(
            workdir / f"backend{number}", parallel=2, ctx_size=2 * SLOT, threads=1,
            api_key=api_key,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.team", description=__doc__)
    parser.add_argument("--typists", default="4,8,16", help="team sizes, comma-separated")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="which clients to run")
    parser.add_argument("--orders", default=",".join(ORDERS), help="FIM orders: psm, spm")
    parser.add_argument(
        "--max-suffix-tokens", type=int, help="the CM4's fim.max_suffix_tokens (default: none)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "team.json", help="JSON results")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.typists.split(",")]
    clients = [name for name in args.clients.split(",") if name]
    orders = [name for name in args.orders.split(",") if name]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-team-") as tmp:
        workdir = Path(tmp)
        backends = list(servers(workdir, secrets.token_urlsafe(32)))
        try:
            for size in sizes:
                for order in orders:
                    for client in clients:
                        where = workdir / f"{client}-{order}-{size}"
                        runs.append(
                            run(client, order, team(size), backends, where, args.max_suffix_tokens)
                        )
                        print_row(runs[-1].summary(), flush=True)
                        save(runs, args.out)  # after each run: a long run keeps its figures
        finally:
            for server in backends:
                server.stop()
    print(f"results: {args.out}")
    return 0


def save(runs: list[Run], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"runs": [run.summary() | {"answers": [asdict(a) for a in run.answers]}
                      for run in runs]},
            indent=1,
        )
    )  # fmt: skip


def print_row(summary: dict[str, Any], flush: bool = False) -> None:
    documents = summary["documents"] or {}
    print(
        f"{summary['typists']:>3} typists  {summary['order']}  {summary['client']:<10}  "
        f"suffix cap {summary.get('max_suffix_tokens')}  "
        f"keystrokes {summary['keystrokes']:>3}  statuses {summary['statuses']}  "
        f"409 {summary['superseded_409']:>3}  median {summary['median_s']} s  "
        f"p90 {summary['p90_s']} s  re-processed median {summary['reprocessed_median']} "
        f"p90 {summary['reprocessed_p90']}  evictions {documents.get('evictions', '-')}",
        flush=flush,
    )


if __name__ == "__main__":
    raise SystemExit(main())
