"""Request bodies: read in full, within a size (413) and a time (408) limit, before the app.

The whole body is read here, before the load-shedding middleware inside takes a place, so
a client that sends its body slowly holds a connection (bounded by the server's connection
limit) but never a place. The app then receives the body as one ``http.request`` message
(``await request.body()`` works as usual), and after it whatever the server sends next
(``http.disconnect`` when the client leaves).
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebrum.api.errors import error_response


class _TooLargeError(Exception):
    pass


class _ClientLeftError(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        too_large = (
            413,
            "request_too_large",
            f"request body is larger than {self.max_bytes} bytes (CEREBRUM_MAX_BODY_BYTES)",
        )
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(scope, receive, send, *too_large)
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            message = f"request body not received within {self.timeout:g} s (CEREBRUM_BODY_TIMEOUT)"
            await _refuse(scope, receive, send, 408, "request_timeout", message)
            return
        except _TooLargeError:
            await _refuse(scope, receive, send, *too_large)
            return
        except _ClientLeftError:
            return  # nobody to answer
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes:
        pieces: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientLeftError
            piece = message.get("body", b"")
            size += len(piece)
            if size > self.max_bytes:
                raise _TooLargeError
            pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, kind: str, message: str
) -> None:
    """Answer without reading the rest of the body, and close the connection."""
    response = error_response(status, kind, message, headers={"Connection": "close"})
    await response(scope, receive, send)
