"""`python -m bench.sse`: the hand-written SSE pieces beside the libraries they stand in for.

    PYTHONPATH=$PWD/app:$PWD .venv/bin/python -m bench.sse [--requests N] [--rounds R]

CPU time of this process (``time.process_time``) per streamed request, the median of
``--rounds`` rounds of ``--requests`` requests, ours and the library's rounds interleaved:

  transport  ``core/transport.py`` LeanTransport against httpx's AsyncHTTPTransport: a POST
             with ``Connection: close`` (as the service sends its generations) to an upstream
             in a child process answering llama-server's stream of a 16-token completion
             (bench/canned.py: 17 events in 17 chunks), read to its end and closed.
  parser     ``sse_reader.EventParser`` against httpx-sse: the same 17 events, one chunk
             each (as llama-server writes them), from an httpx response held in memory to
             each event's data.
  response   ``api/sse.py`` EventStream against sse-starlette's EventSourceResponse: the
             same 17 encoded events, one per event-loop turn (as tokens come from a backend),
             through the ASGI response to an in-memory ``send``.

Then a 32 MB event without its blank line, 64 KB at a time, through both parsers: the CPU
time until each refuses it or reaches the end, and the most memory it held (tracemalloc).

uvloop runs the event loop when it is installed (as under uvicorn on the CM4). httpx-sse and
sse-starlette are bench-only (bench/requirements.txt); the app uses neither. Figures go to
stdout and to bench/results/sse-<machine>.json (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from bench import canned
from harness.ports import free_port, wait_until

RESULTS = Path(__file__).resolve().parent / "results"
EVENTS = [event + b"\n\n" for event in canned.completion_stream().encode().split(b"\n\n")[:-1]]
HUGE_PIECE, HUGE_PIECES = b"x" * 65536, 512  # 32 MB

Runner = Callable[[int], Awaitable[None]]  # runs n requests


# --- the upstream (a child process, so its CPU time is not counted) -------------------------


def _chunked(events: list[bytes]) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events)
    return head + b"Connection: close\r\n\r\n" + body + b"0\r\n\r\n"


async def _serve() -> None:
    answer = _chunked(EVENTS)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                await reader.readexactly(int(value))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=128)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


# --- (a) transport ------------------------------------------------------------------------


def _transport_runner(transport: httpx.AsyncBaseTransport, url: str) -> Runner:
    http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0))
    body = json.dumps({"prompt": "def f(", "n_predict": 16, "stream": True}).encode()
    headers = {"Content-Type": "application/json", "Connection": "close"}

    async def run(n: int) -> None:
        for _ in range(n):
            request = httpx.Request("POST", url, content=body, headers=headers)
            response = await http.send(request, stream=True)
            async for _piece in response.aiter_bytes():
                pass
            await response.aclose()

    return run


# --- (b) parser ---------------------------------------------------------------------------


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


def _response(pieces: list[bytes]) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    return httpx.Response(200, headers=headers, stream=_Pieces(pieces))


async def _ours(response: httpx.Response) -> list[bytes]:
    from cerebrum.sse_reader import aiter_events

    return [data async for data in aiter_events(response)]


async def _httpx_sse(response: httpx.Response) -> list[bytes]:
    from httpx_sse import EventSource

    return [event.data.encode() async for event in EventSource(response).aiter_sse()]


def _parser_runner(parse: Callable[[httpx.Response], Awaitable[list[bytes]]]) -> Runner:
    async def run(n: int) -> None:
        for _ in range(n):
            await parse(_response(EVENTS))

    return run


# --- (c) response (under uvicorn in a child process; its CPU time is asked over HTTP) -------

SHAPES = ("spaced", "burst")  # one event per loop turn (tokens from a backend), or all at once


async def _produce(spaced: bool) -> AsyncGenerator[bytes, None]:
    for event in EVENTS:
        yield event
        if spaced:
            await asyncio.sleep(0)


def _response_app() -> Any:
    """A Starlette app answering /<response class>/<shape> with the 17 events, and /cpu."""
    from cerebrum.api.sse import EventStream
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    builders: dict[str, Callable[[AsyncGenerator[bytes, None]], Response]] = {
        "EventStream": lambda events: EventStream(events, ping_interval=5.0, send_timeout=30.0),
        "EventSourceResponse": lambda events: EventSourceResponse(events, ping=5, send_timeout=30),
    }

    async def cpu(request: Request) -> Response:
        return PlainTextResponse(repr(time.process_time()))

    def endpoint(build: Callable[[AsyncGenerator[bytes, None]], Response], spaced: bool) -> Any:
        async def stream(request: Request) -> Response:
            return build(_produce(spaced))

        return stream

    routes = [Route("/cpu", cpu)] + [
        Route(f"/{name}/{shape}", endpoint(build, shape == "spaced"))
        for name, build in builders.items()
        for shape in SHAPES
    ]
    return Starlette(routes=routes)


def _serve_app(port: int) -> None:
    import uvicorn

    loop = "uvloop" if _has_uvloop() else "asyncio"
    uvicorn.run(
        _response_app(), host="127.0.0.1", port=port, loop=loop, http="httptools",
        log_level="warning", access_log=False,
    )  # fmt: skip


async def _response_cpu_us(base: str, requests: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median CPU µs the server spent per streamed request, per response class and shape."""
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as http:

        async def server_cpu() -> float:
            return float((await http.get("/cpu")).text)

        def runner(path: str) -> Runner:
            async def run(n: int) -> None:
                for _ in range(n):
                    async with http.stream("GET", path) as response:
                        async for _piece in response.aiter_bytes():
                            pass

            return run

        figures: dict[str, dict[str, float]] = {}
        for shape in SHAPES:
            pair = {name: runner(f"/{name}/{shape}") for name in RESPONSES}
            figures[shape] = await _cpu_us(pair, requests, rounds, server_cpu)
        return figures


RESPONSES = ("EventStream", "EventSourceResponse")


# --- measuring ----------------------------------------------------------------------------


async def _own_cpu() -> float:
    return time.process_time()


async def _cpu_us(
    pair: dict[str, Runner],
    requests: int,
    rounds: int,
    cpu: Callable[[], Awaitable[float]] = _own_cpu,
) -> dict[str, float]:
    """Median CPU µs per request of each runner (``cpu``: this process's CPU seconds, or
    the server's), rounds interleaved, after a warm-up."""
    samples: dict[str, list[float]] = {name: [] for name in pair}
    for run in pair.values():
        await run(max(1, requests // 10))
    for _ in range(rounds):
        for name, run in pair.items():
            started = await cpu()
            await run(requests)
            samples[name].append((await cpu() - started) / requests * 1e6)
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}


async def _huge(parse: Callable[[httpx.Response], Awaitable[list[bytes]]]) -> dict[str, Any]:
    """A 32 MB event without its blank line: CPU ms until refused or ended, peak memory."""
    from cerebrum.sse_reader import EventTooLargeError

    pieces = [b"data: ", *[HUGE_PIECE] * HUGE_PIECES]
    started = time.process_time()
    try:
        events = await parse(_response(pieces))
        outcome = f"ended, {len(events)} events"
    except EventTooLargeError as exc:
        outcome = f"refused: {exc}"
    cpu_ms = round((time.process_time() - started) * 1000, 1)
    tracemalloc.start()
    with contextlib.suppress(EventTooLargeError):
        await parse(_response(pieces))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"outcome": outcome, "cpu_ms": cpu_ms, "peak_mib": round(peak / 1_048_576, 1)}


async def _measure(url: str, app: str, requests: int, rounds: int) -> dict[str, Any]:
    from cerebrum.core.transport import LeanTransport

    parsed = {name: await parse(_response(EVENTS)) for name, parse in _PARSERS.items()}
    assert parsed["EventParser"] == parsed["httpx-sse"], parsed  # the same events
    pairs: dict[str, dict[str, Runner]] = {
        "transport": {
            "LeanTransport": _transport_runner(LeanTransport(), url),
            "httpx AsyncHTTPTransport": _transport_runner(httpx.AsyncHTTPTransport(), url),
        },
        "parser": {name: _parser_runner(parse) for name, parse in _PARSERS.items()},
    }
    figures = {what: await _cpu_us(pair, requests, rounds) for what, pair in pairs.items()}
    for shape, pair in (await _response_cpu_us(app, requests, rounds)).items():
        figures[f"response, {shape}"] = pair
    huge = {name: await _huge(parse) for name, parse in _PARSERS.items()}
    return {"cpu_us_per_request": figures, "event_32mb": huge}


_PARSERS: dict[str, Callable[[httpx.Response], Awaitable[list[bytes]]]] = {
    "EventParser": _ours,
    "httpx-sse": _httpx_sse,
}


def _run(main: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("httpx", "httpcore", "httptools", "httpx-sse", "starlette", "anyio",
                 "sse-starlette", "uvloop"):  # fmt: skip
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


def report(data: dict[str, Any]) -> str:
    lines = [
        f"{data['machine']}, Python {data['python']}, loop {data['loop']}; "
        f"{data['requests']} requests x {data['rounds']} rounds",
        f"{'CPU us per streamed request':<12} {'ours':>24} {'library':>40} {'library/ours':>13}",
    ]
    for what, pair in data["cpu_us_per_request"].items():
        (ours, mine), (theirs, lib) = pair.items()
        cell_ours, cell_lib = f"{ours} {mine:.1f}", f"{theirs} {lib:.1f}"
        lines.append(f"{what:<12} {cell_ours:>24} {cell_lib:>40} {lib / mine:>12.2f}x")
    for name, huge in data["event_32mb"].items():
        lines.append(
            f"32 MB event, {name}: {huge['outcome']}, {huge['cpu_ms']} ms CPU, "
            f"peak {huge['peak_mib']} MiB"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sse", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per side")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON")
    parser.add_argument("--serve", choices=("upstream", "app"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "upstream":
        _run(_serve())
        return 0
    if args.serve == "app":
        _serve_app(args.port)
        return 0
    command = [sys.executable, "-m", "bench.sse", "--serve"]
    port = free_port()
    upstream = subprocess.Popen([*command, "upstream"], stdout=subprocess.PIPE, text=True)
    app = subprocess.Popen([*command, "app", "--port", str(port)])
    try:
        assert upstream.stdout is not None
        url = f"http://127.0.0.1:{upstream.stdout.readline().strip()}/completion"
        base = f"http://127.0.0.1:{port}"
        if not wait_until(lambda: _answers(base + "/cpu"), timeout=120, interval=0.2):
            raise SystemExit(f"the response app did not start on {base}")
        data = {
            "machine": f"{platform.machine()} ({platform.node()})",
            "python": platform.python_version(),
            "loop": "uvloop" if _has_uvloop() else "asyncio",
            "requests": args.requests,
            "rounds": args.rounds,
            "versions": _versions(),
            **_run(_measure(url, base, args.requests, args.rounds)),
        }
    finally:
        for child in (upstream, app):
            child.terminate()
            child.wait()
    print(report(data))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sse-{platform.machine()}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"results: {path}")
    return 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
