"""`python -m bench.exposure`: small hostile clients and backends against the real orchestrator.

The orchestrator runs as `python -m cerebrum` under uvicorn on a loopback port, in front of
a scriptable backend on another loopback port (this process), and each attack of issue 15
is tried with real sockets. Prints one line per attack: what was tried, what held, the time
it took and the orchestrator's memory (VmHWM, VmRSS from /proc), its open descriptors and
CPU seconds. docs/reliability.md ("Security: one small request") quotes the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.memory import cpu_seconds, status_kib
from harness.orchestrator import Orchestrator
from harness.ports import free_port

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]
TOKEN = b'data: {"content":"x","stop":false,"tokens_predicted":%d}\n\n'
FINAL = b'data: {"content":"","stop":true,"stop_type":"limit","tokens_predicted":2}\n\n'
HALF_HEAD = b"GET /health HTTP/1.1\r\nHost: c\r\nX-Slow: "
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


async def ok_answer(writer: asyncio.StreamWriter) -> None:
    writer.write(SSE_HEAD + TOKEN % 1 + TOKEN % 2 + FINAL)
    await writer.drain()


async def json_answer(writer: asyncio.StreamWriter, status: int = 200) -> None:
    body = b'{"status":"ok","data":[]}' if status == 200 else b'{"error":{"message":"no"}}'
    writer.write(
        b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (status, len(body), body)
    )
    await writer.drain()


class Backend:
    """A loopback HTTP server whose answer per path a test sets in ``answers``."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?")[0]
            length = next(
                (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                 if line.startswith(b"content-length:")), 0,
            )  # fmt: skip
            if length:
                await reader.readexactly(length)
            default = ok_answer if path in ("/completion", "/v1/chat/completions") else json_answer
            await self.answers.get(path, default)(writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def figures(pid: int) -> dict[str, float]:
    return {
        "hwm_mb": round(status_kib(pid, "VmHWM") / 1024, 1),
        "rss_mb": round(status_kib(pid, "VmRSS") / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "cpu_s": round(cpu_seconds(pid), 2),
    }


def report(name: str, held: str, started: float, pid: int, **extra: object) -> None:
    line = {"attack": name, "held": held, "seconds": round(time.monotonic() - started, 2)}
    print(json.dumps({**line, **extra, **figures(pid)}), flush=True)


async def until(check: Callable[[], Awaitable[bool]], limit: float = 60.0) -> None:
    """Poll ``check`` until it holds; TimeoutError after ``limit`` seconds (a bounded loop)."""
    async with asyncio.timeout(limit):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


async def connections(
    address: tuple[str, int], count: int, first: bytes
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``count`` connections that each sent ``first`` (and then nothing)."""
    opened = [await asyncio.open_connection(*address) for _ in range(count)]
    for _, writer in opened:
        writer.write(first)
    await asyncio.sleep(0.2)  # let the server see them
    return opened


async def closed_within(reader: asyncio.StreamReader, limit: float) -> bytes:
    data = b""
    async with asyncio.timeout(limit):
        while piece := await reader.read(65536):
            data += piece
    return data


async def main() -> None:
    backend, stale = Backend(), Backend()
    await backend.start()
    await stale.start()
    workdir = Path(tempfile.mkdtemp(prefix="exposure-"))
    port = free_port()
    models = [{"alias": "m", "model": "m", "context_size": 2048}]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREBRUM_")}
    env.update(
        CEREBRUM_BACKENDS=json.dumps([backend.url, stale.url]),
        CEREBRUM_MODELS=json.dumps(models),
        CEREBRUM_PORT=str(port),
        CEREBRUM_MAX_IN_FLIGHT="4",
        CEREBRUM_MAX_QUEUE="0",
        CEREBRUM_BODY_TIMEOUT="2",
        CEREBRUM_HEADER_TIMEOUT="2",
        CEREBRUM_HEALTH_TIMEOUT="2",
        CEREBRUM_SEND_TIMEOUT="2",
        CEREBRUM_MAX_CONNECTIONS="64",
        CEREBRUM_LOG_LEVEL="warning",
        CEREBRUM_BREAKER_FAILURES="1000",  # every attack meets closed circuits
    )
    orchestrator = Orchestrator(env=env, workdir=workdir, port=port)
    await asyncio.to_thread(orchestrator.start)
    assert orchestrator.process is not None
    pid = orchestrator.process.pid
    address = ("127.0.0.1", port)
    http = httpx.AsyncClient(base_url=orchestrator.url, timeout=30)
    body = {"model": "m", "prompt": "x", "max_tokens": 2}
    try:
        print(json.dumps({"idle": figures(pid)}), flush=True)

        # 3. slow bodies must not hold the 4 places
        started = time.monotonic()
        head = b'POST /v1/complete HTTP/1.1\r\nHost: c\r\nContent-Length: 100\r\n\r\n{"pr'
        slow = await connections(address, 8, head)
        served = [(await http.post("/v1/complete", json=body)).status_code for _ in range(4)]
        answers = [await closed_within(reader, 10) for reader, _ in slow]
        statuses = sorted({answer[9:12].decode() for answer in answers})
        report("8 slow request bodies, 4 places", f"others served {served}; slow got {statuses}",
               started, pid)  # fmt: skip

        # 9. connections that never finish their headers; the connection limit
        started = time.monotonic()
        half = await connections(address, 50, HALF_HEAD)
        limited = (await http.get("/health")).status_code
        closed = [await closed_within(reader, 10) for reader, _ in half]
        after = (await http.get("/health")).status_code
        report("50 half-sent request heads (limit 64 connections)",
               f"all closed: {all(c == b'' for c in closed)}; /health during {limited}, "
               f"after {after}", started, pid)  # fmt: skip

        started = time.monotonic()
        many = await connections(address, 70, HALF_HEAD)
        refused = (await http.get("/health")).status_code
        for _, writer in many:
            writer.close()

        async def let_go() -> bool:  # uvicorn has dropped the closed connections
            return (await http.get("/health")).status_code == 200

        await until(let_go)
        report("70 idle connections against a limit of 64", f"/health answered {refused}",
               started, pid)  # fmt: skip

        # 4. a client that stops reading a stream, at any point
        started = time.monotonic()

        async def flood(writer: asyncio.StreamWriter) -> None:
            writer.write(SSE_HEAD)
            for n in range(1, 400):
                writer.write(TOKEN.replace(b'"x"', b'"' + b"x" * 65536 + b'"') % n)
                await writer.drain()
            writer.write(FINAL)
            await writer.drain()

        for each in (backend, stale):
            each.answers["/completion"] = flood
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address)
        payload = json.dumps({**body, "max_tokens": 400}).encode()
        sock.sendall(  # still blocking: the request is small
            b"POST /v1/complete/stream HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
        )
        sock.setblocking(False)
        async with asyncio.timeout(10):  # the status line, then never another byte
            status = (await asyncio.get_running_loop().sock_recv(sock, 12))[9:12].decode()

        async def freed() -> bool:
            return not (await http.get("/v1/stats")).json()["requests"]["in_flight"]

        await until(freed)
        sock.close()
        for each in (backend, stale):
            del each.answers["/completion"]
        report("a stream client that stops reading (send timeout 2 s)",
               f"stream answered {status}, then its place was freed", started, pid)  # fmt: skip

        # 6. backends: /health dripping, 150 MB /health, a 32 MB event without a blank line
        async def drip(writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while True:
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.2)

        for each in (backend, stale):
            each.answers["/health"] = drip
        started = time.monotonic()
        fds = figures(pid)["fds"]
        for _ in range(10):
            health = (await http.get("/v1/vps/health")).json()["backends"][0]
        await asyncio.sleep(0.5)
        report("/health dripping 1 byte every 0.2 s, 10 calls of /v1/vps/health",
               f"{health['status']}: {health['detail']}; fds before {fds}",
               started, pid)  # fmt: skip

        async def huge(writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 157286400\r\n\r\n")
            block = b"x" * 1_048_576
            for _ in range(150):
                writer.write(block)
                await writer.drain()

        for each in (backend, stale):
            each.answers["/health"] = huge
        started = time.monotonic()
        health = (await http.get("/v1/vps/health")).json()["backends"][0]
        report("150 MB /health body", f"{health['status']}: {health['detail']}", started, pid)

        async def endless_event(writer: asyncio.StreamWriter) -> None:
            writer.write(SSE_HEAD + b"data: ")
            block = b"x" * 65536
            for _ in range(512):  # 32 MB
                writer.write(block)
                await writer.drain()

        for each in (backend, stale):
            each.answers["/completion"] = endless_event
        for each in (backend, stale):
            del each.answers["/health"]
        started = time.monotonic()
        cpu = cpu_seconds(pid)
        answer = await http.post("/v1/complete", json=body)
        report("32 MB SSE event without a blank line",
               f"{answer.status_code} {answer.json()['error']['message'][:70]}", started, pid,
               cpu_used_s=round(cpu_seconds(pid) - cpu, 2))  # fmt: skip
        for each in (backend, stale):
            del each.answers["/completion"]

        # 7. malformed upstream data on every route
        started = time.monotonic()

        async def bad_choices(writer: asyncio.StreamWriter) -> None:
            writer.write(SSE_HEAD + b'data: {"content": 5, "tokens_predicted": "x"}\n\n')
            await writer.drain()

        for each in (backend, stale):
            each.answers["/completion"] = bad_choices
        seen = set()
        for path, extra in (("/v1/complete", {}), ("/v1/completions", {}),
                            ("/v1/chat/completions", {})):  # fmt: skip
            request = dict(body, **extra)
            if path == "/v1/chat/completions":
                request = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            response = await http.post(path, json=request)
            seen.add(f"{path} {response.status_code} {response.json()['error']['type']}")
        for each in (backend, stale):
            del each.answers["/completion"]
        report("malformed upstream event", "; ".join(sorted(seen)), started, pid)

        # 10. X-Forwarded-For in loopback-only mode
        started = time.monotonic()
        forwarded = await http.get("/v1/stats", headers={"X-Forwarded-For": "8.8.8.8"})
        report("X-Forwarded-For: 8.8.8.8 from loopback", f"served as loopback: "
               f"{forwarded.status_code}", started, pid)  # fmt: skip

        # 5. a backend that refuses the key (half-finished rotation)
        async def refuse(writer: asyncio.StreamWriter) -> None:
            await json_answer(writer, 401)

        stale.answers.update({"/completion": refuse, "/models": refuse})
        started = time.monotonic()
        before = (await http.get("/v1/stats")).json()["circuits"]["backend 2"]["failures"]
        codes = [(await http.post("/v1/complete", json=body)).status_code for _ in range(20)]
        vps = (await http.get("/v1/vps/health")).json()
        stats = (await http.get("/v1/stats")).json()["circuits"]["backend 2"]  # stale
        report("one of two backends refuses the key, 20 requests",
               f"statuses {sorted(set(codes))}; stale backend {vps['backends'][1]['status']}, "
               f"{stats['failures'] - before} failures counted", started, pid)  # fmt: skip
        print(json.dumps({"end": figures(pid)}), flush=True)
    finally:
        await http.aclose()
        await asyncio.to_thread(orchestrator.stop)


if __name__ == "__main__":
    asyncio.run(main())
