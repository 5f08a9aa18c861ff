"""Client authentication: ``Authorization: Bearer <key>`` against CEREBRUM_CLIENT_KEYS.

With no key configured the orchestrator serves loopback clients only, so an install that
forgot its keys is not an open relay to the backend. ``open_paths`` (liveness) skip the check.
An admitted request carries who it is in ``request.state.client`` (a hash of its key, or
``loopback``): documents are per client (``core.documents``).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from hashlib import blake2b

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from cerebrum.api.errors import error_response


def client_identity(key: str | None) -> str:
    """How a client is named (documents, logs): a hash of its key (never the key itself),
    or ``loopback`` for the keyless loopback clients."""
    if not key:
        return "loopback"
    return "key:" + blake2b(key.encode(), digest_size=8).hexdigest()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, keys: Iterable[str] = (), open_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.keys = tuple(key.encode() for key in keys)
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        if not self.keys:
            client = scope.get("client")
            if is_loopback(client[0] if client else None):
                scope.setdefault("state", {})["client"] = client_identity(None)
                await self.app(scope, receive, send)
                return
            response = error_response(
                403,
                "forbidden",
                "no client keys are configured (CEREBRUM_CLIENT_KEYS), so only loopback "
                "clients are served",
            )
            await response(scope, receive, send)
            return
        scheme, _, credentials = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            message = "missing API key: send Authorization: Bearer <key>"
        elif self._known(credentials.strip().encode()):
            scope.setdefault("state", {})["client"] = client_identity(credentials.strip())
            await self.app(scope, receive, send)
            return
        else:
            message = "invalid API key"
        response = error_response(
            401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)

    def _known(self, offered: bytes) -> bool:
        found = False
        for key in self.keys:  # compare with every key: no early exit, no timing hint
            found |= hmac.compare_digest(offered, key)
        return found
