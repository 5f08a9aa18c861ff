"""The orchestrator under a real in-process uvicorn on a loopback socket, and raw clients.

For the tests of what only real sockets show: timeouts on headers and bodies, the
connection limit, proxy headers, send timeouts. The backend is still a fake (``transport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple

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


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer(NamedTuple):
    url: str
    heads: list[bytes]  # the request heads received, in order
    closed: list[asyncio.Event]  # one per connection, set once it is closed


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[RawServer]:
    """A loopback HTTP server that runs ``handler`` on each connection once its request head
    has been read, then closes it: a backend that answers however a test needs. A client
    hanging up (a handler's write failing) ends the connection quietly."""
    served = RawServer("", [], [])

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done = asyncio.Event()
        served.closed.append(done)
        try:
            served.heads.append(await reader.readuntil(b"\r\n\r\n"))
            await handler(reader, writer)
        except OSError:
            pass
        finally:
            writer.close()
            done.set()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield served._replace(url=f"http://127.0.0.1:{port}")
    finally:
        listener.close()
