"""uvicorn, configured from the settings so that no connection can be held without a bound.

- Headers: a request's line and headers must arrive within ``CEREBRUM_HEADER_TIMEOUT``
  seconds and ``MAX_HEAD_BYTES`` bytes, or the connection is closed (uvicorn 0.55 has
  neither for httptools, so ``GuardedHttpToolsProtocol`` adds both). The body has its own
  deadline (``CEREBRUM_BODY_TIMEOUT``, in the body-limit middleware).
- Idle keep-alive connections close after ``CEREBRUM_KEEPALIVE_TIMEOUT`` seconds.
- At most ``CEREBRUM_MAX_CONNECTIONS`` connections are served; a request beyond gets 503.
- ``X-Forwarded-For`` is believed only from the proxies in ``CEREBRUM_FORWARDED_ALLOW_IPS``;
  with none (the default) the peer address is the client's, as loopback-only mode needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cerebrum.settings import Settings

MAX_HEAD_BYTES = 65536


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound on each request's head.

    The timer runs from the connection (or the first byte of a request that follows on a
    keep-alive connection) until its headers are complete; when it fires, or the head grows
    beyond ``MAX_HEAD_BYTES``, the connection is closed. ``header_timeout`` is set on the
    subclass ``protocol_class`` makes.
    """

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_head = True
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self.logger.warning("request head too large", extra={"limit": MAX_HEAD_BYTES})
            self.send_400_response(f"request head larger than {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.logger.info("closing a connection whose request head did not arrive in time")
            self.transport.close()


def protocol_class(header_timeout: float) -> type[GuardedHttpToolsProtocol]:
    """The protocol with this header deadline (uvicorn builds one instance per connection)."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout": header_timeout},
    )


def uvicorn_config(settings: Settings, app: ASGIApp, **options: Any) -> uvicorn.Config:
    """The server's configuration; ``options`` adds uvicorn options (log config, ...)."""
    trusted = settings.forwarded_allow_ips
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol_class(settings.header_timeout),
        ws="none",  # no WebSocket routes: do not load a WebSocket implementation
        lifespan="on",
        server_header=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_keep_alive=settings.keepalive_timeout,
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=10,
        **options,
    )
