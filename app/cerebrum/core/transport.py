"""A lean HTTP/1.1 transport for the backend client: one new connection per request.

httpx's default transport (httpcore, h11 and anyio, all in Python) costs several times the
CPU of this one per streamed request (``python -m bench.sse``, figures on x86_64 and arm64 in
docs/benchmarks.md). This one asks the event loop for a TCP connection, writes the request
in one call and parses the answer with httptools (uvicorn's own parser, already a
dependency). It does what the backends need and no more: plain ``http://`` (``https://``
backends keep httpx's transport), a request body given in full, a response streamed as it
arrives (chunked, Content-Length, or until the server closes), and the connection closed
after each response (``Connection: close``, as the generations ask anyway: llama-server's
router drops reused connections at times).

Errors are httpx's own (ConnectError, ConnectTimeout, ReadTimeout, ReadError, WriteError,
RemoteProtocolError), so callers handle both transports alike; timeouts come from the
request's ``timeout`` extension (connect, write, read; None waits forever).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httptools
import httpx

_READ_SIZE = 65536
MAX_HEAD_BYTES = 65536  # a response's status line and headers; beyond, a protocol error
_NO_TIMEOUT: dict[str, float | None] = {}


class _Parsed:
    """httptools callbacks: the response head, then body pieces as they come."""

    __slots__ = ("body", "complete", "headers", "headers_done", "reason")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.headers_done = False
        self.body: list[bytes] = []
        self.complete = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over a fresh TCP connection for every request (``http://`` only)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"LeanTransport speaks http:// only, not {url}")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", _NO_TIMEOUT)
        port = url.port or 80
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                reader, writer = await asyncio.open_connection(url.host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {url.host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"{url.host}:{port}: {exc}") from None
        try:
            writer.write(_head(request) + await request.aread())
            async with asyncio.timeout(timeouts.get("write")):
                await writer.drain()
        except TimeoutError:
            writer.close()
            raise httpx.WriteTimeout("sending the request timed out") from None
        except OSError as exc:
            writer.close()
            raise httpx.WriteError(f"sending the request failed: {exc}") from None
        except BaseException:  # cancelled: the backend must not keep a half-sent request
            writer.close()
            raise
        stream = _ResponseStream(reader, writer, timeouts.get("read"))
        try:
            parsed = await stream.read_head()
        except BaseException:
            await stream.aclose()
            raise
        return httpx.Response(
            stream.status,
            headers=parsed.headers,
            stream=stream,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": parsed.reason},
        )


class _ResponseStream(httpx.AsyncByteStream):
    """The body of one response, read from its own connection; closing it closes the socket."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float | None
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._parsed = _Parsed()
        self._parser = httptools.HttpResponseParser(self._parsed)
        self._until_close = False
        self.status = 0

    async def read_head(self) -> _Parsed:
        received = 0
        while not self._parsed.headers_done:
            if received > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError(f"response head larger than {MAX_HEAD_BYTES} bytes")
            if not (read := await self._feed()):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            received += read
        self.status = self._parser.get_status_code()
        names = {name.lower() for name, _ in self._parsed.headers}
        self._until_close = b"content-length" not in names and b"transfer-encoding" not in names
        return self._parsed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parsed = self._parsed
        while True:
            if parsed.body:
                pieces, parsed.body = parsed.body, []
                yield b"".join(pieces)
            if parsed.complete:
                return
            if not await self._feed():
                if self._until_close:
                    return
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )

    async def aclose(self) -> None:
        self._writer.close()

    async def _feed(self) -> int:
        """Read what has arrived into the parser: how many bytes (0 at end of stream)."""
        try:
            if self._timeout is None:
                data = await self._reader.read(_READ_SIZE)
            else:
                async with asyncio.timeout(self._timeout):
                    data = await self._reader.read(_READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no data for {self._timeout:g} s") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None
        if not data:
            return 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise httpx.RemoteProtocolError(f"invalid HTTP response: {exc}") from None
        return len(data)


def _head(request: httpx.Request) -> bytes:
    """The request line and headers, with ``Connection: close``."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(
        name + b": " + value for name, value in request.headers.raw if name.lower() != b"connection"
    )
    lines.append(b"Connection: close\r\n\r\n")
    return b"\r\n".join(lines)
