"""core/transport.py: HTTP/1.1 over a fresh connection per request, against a raw local server."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from cerebrum.core.generation import Generation
from cerebrum.core.llama_server import LlamaServerClient
from cerebrum.core.transport import LeanTransport

from tests.unit.serving import Handler, raw_server

pytestmark = pytest.mark.anyio


def answer(*parts: bytes, pause: float = 0.0) -> Handler:
    async def handler(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)

    return handler


def client(timeout: float | None = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LeanTransport(), timeout=timeout)


CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_chunked_body_is_streamed_piece_by_piece():
    pieces = [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]
    handler = answer(CHUNKED_HEAD, *map(chunk, pieces), b"0\r\n\r\n", pause=0.01)
    async with (
        raw_server(handler) as (url, _, _),
        client() as http,
        http.stream("POST", url + "/completion", content=b"{}") as response,
    ):
        received = [piece async for piece in response.aiter_raw()]
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert b"".join(received) == b"".join(pieces)
    assert len(received) == 3  # each chunk as it came, not the body at the end


async def test_content_length_body_is_read_whole():
    handler = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n", b'{"status":"ok"}')
    async with raw_server(handler) as (url, _, _), client() as http:
        response = await http.get(url + "/health")
    assert response.json() == {"status": "ok"}
    assert response.reason_phrase == "OK"


async def test_body_without_length_ends_when_the_server_closes():
    handler = answer(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", b"loading")
    async with raw_server(handler) as (url, _, _), client() as http:
        response = await http.get(url + "/health")
    assert (response.status_code, response.text) == (503, "loading")


async def test_request_asks_for_one_connection_and_carries_headers_and_body():
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readexactly(7))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    async with raw_server(handler) as (url, heads, _), client() as http:
        await http.post(
            url + "/completion?x=1",
            content=b'{"a":1}',
            headers={"Authorization": "Bearer k", "Connection": "keep-alive"},
        )
    head = heads[0].decode().lower()
    assert head.startswith("post /completion?x=1 http/1.1\r\n")
    assert "authorization: bearer k\r\n" in head
    assert "content-length: 7\r\n" in head
    assert head.count("connection:") == 1
    assert "connection: close\r\n" in head
    assert received == [b'{"a":1}']


async def test_server_closing_before_answering_is_a_protocol_error():
    async with raw_server(answer()) as (url, _, _), client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await http.get(url + "/health")


async def test_server_closing_inside_a_chunked_body_is_a_protocol_error():
    handler = answer(CHUNKED_HEAD, chunk(b"data: 1\n\n"))
    async with (
        raw_server(handler) as (url, _, _),
        client() as http,
        http.stream("POST", url + "/completion") as response,
    ):
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            await response.aread()


async def test_refused_connection_is_a_connect_error():
    async with raw_server(answer()) as (url, _, _):
        pass  # the port is closed again
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url + "/health")


async def test_silent_server_is_a_read_timeout():
    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with raw_server(silent) as (url, _, _), client(timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url + "/health")


async def test_https_is_refused():
    async with client() as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("https://127.0.0.1:1/health")


async def test_closing_a_stream_early_closes_the_connection():
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
        await writer.drain()
        if await reader.read() == b"":  # the client hung up
            closed.set()

    async with raw_server(handler) as (url, _, _), client() as http:
        async with http.stream("POST", url + "/completion") as response:
            async for _ in response.aiter_raw():
                break
        await asyncio.wait_for(closed.wait(), 2)


async def test_llama_server_client_streams_a_generation_through_it():
    events = [
        b'data: {"content":"def","stop":false,"tokens_predicted":1}\n\n',
        b'data: {"content":" f","stop":false,"tokens_predicted":2}\n\n',
        b'data: {"content":"","stop":true,"stop_type":"limit","tokens_predicted":2,'
        b'"tokens_evaluated":3}\n\n',
    ]
    handler = answer(CHUNKED_HEAD, *map(chunk, events), b"0\r\n\r\n")
    async with raw_server(handler) as (url, _, _), client(timeout=None) as http:
        upstream = await LlamaServerClient(url, http).open(Generation("m1", 2, prompt="x"))
        try:
            chunks = [piece async for piece in upstream]
        finally:
            await upstream.aclose()
    assert [c.text for c in chunks] == ["def", " f", ""]
    assert chunks[-1].done
    assert (chunks[-1].prompt_tokens, chunks[-1].completion_tokens) == (3, 2)


async def test_a_response_head_that_never_ends_is_a_protocol_error():
    async def endless_head(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        while True:
            writer.write(b"X-Padding: " + b"x" * 4096 + b"\r\n")
            await writer.drain()

    async with raw_server(endless_head) as (url, _, closed), client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="head larger than"):
            await http.get(url + "/health")
        async with asyncio.timeout(20):
            await closed[0].wait()
