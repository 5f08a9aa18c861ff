"""The orchestrator under a real in-process uvicorn on a loopback socket, and raw clients.

For the tests of what only real sockets show: timeouts on headers and bodies, the
connection limit, proxy headers, send timeouts. The backend is still a fake (``transport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import uvicorn
from cerebrum.api.main import create_app
from cerebrum.server import uvicorn_config
from cerebrum.settings import Settings

WAIT = 20.0  # the longest any test waits for something that should happen much sooner


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[tuple[str, int]]:
    """Serve the app configured by ``settings``; yields the (host, port) it listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn_config(settings, create_app(settings, transport), log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(WAIT):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def eventually(predicate: Callable[[], Awaitable[bool]], limit: float = WAIT) -> None:
    """Poll ``predicate`` until it holds (TimeoutError after ``limit`` seconds)."""
    async with asyncio.timeout(limit):
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.02)


async def read_until_closed(reader: asyncio.StreamReader, limit: float = WAIT) -> bytes:
    """Everything the server sends until it closes the connection (TimeoutError after ``limit``)."""
    data = bytearray()
    async with asyncio.timeout(limit):
        while piece := await reader.read(65536):
            data += piece
    return bytes(data)


async def connect(
    address: tuple[str, int], first: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*address)
    if first:
        writer.write(first)
        await writer.drain()
    return reader, writer


Handler = Callable[[str, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def misbehaving_backend(handler: Handler) -> AsyncIterator[tuple[str, list[asyncio.Event]]]:
    """A raw HTTP server on a loopback port: ``handler(path, writer)`` answers each request
    however it likes. Yields the base URL and one event per connection, set once the
    connection is closed (by either side), so a test can see that nothing was left open."""
    closed: list[asyncio.Event] = []

    async def answer(path: str, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):  # the client hung up: that is what tests expect
            await handler(path, writer)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done = asyncio.Event()
        closed.append(done)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            answering = asyncio.create_task(answer(path, writer))
            await reader.read()  # returns when the client closes its side
            answering.cancel()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}", closed
    finally:
        server.close()
        for writer_closed in closed:
            writer_closed.set()
