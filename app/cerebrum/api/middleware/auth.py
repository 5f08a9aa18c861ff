"""Client authentication: ``Authorization: Bearer <key>`` against CEREBRUM_CLIENT_KEYS.

With no key configured the orchestrator serves loopback clients only, so an install that
forgot its keys is not an open relay to the backend; they are named ``loopback`` and are
the operator (admin). ``open_paths`` (liveness) skip the check; ``admin_paths`` need a key
marked ``admin`` (403 otherwise). A browser (the dashboard) sends the key as the password of
HTTP Basic authentication, and is asked for it so when it asks for HTML. An admitted
request carries who it is:
``request.state.client`` is the key's configured name (what sessions, logs, usage and
metrics see; never the key; documents are per client, ``core.documents``) and
``request.state.caller`` its ``Client`` (limits, rights).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from cerebrum import logs
from cerebrum.api.errors import error_response
from cerebrum.core.clients import LOOPBACK, Client


def client_identity(name: str | None) -> str:
    """How a client is named (documents, logs, usage): its key's configured name (never the
    key itself, CEREBRUM_CLIENT_KEYS), or ``loopback`` for the keyless loopback clients."""
    return name or "loopback"


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
        self,
        app: ASGIApp,
        keys: Iterable[tuple[str, Client]] = (),
        open_paths: Iterable[str] = (),
        admin_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.keys = tuple((key.encode(), client) for key, client in keys)
        self.open_paths = frozenset(open_paths)
        self.admin_paths = frozenset(admin_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        if not self.keys:
            client = scope.get("client")
            if is_loopback(client[0] if client else None):
                await self._admit(LOOPBACK, scope, receive, send)
                return
            response = error_response(
                403,
                "forbidden",
                "no client keys are configured (CEREBRUM_CLIENT_KEYS), so only loopback "
                "clients are served",
            )
            await response(scope, receive, send)
            return
        headers = Headers(scope=scope)
        offered = _offered_key(headers.get("authorization", ""))
        caller = None
        if offered is None:
            message = "missing API key: send Authorization: Bearer <key>"
        else:
            caller = self._known(offered)
            message = "invalid API key"
        if caller is not None:
            await self._admit(caller, scope, receive, send)
            return
        browser = "text/html" in headers.get("accept", "")
        challenge = 'Basic realm="cerebrum", charset="UTF-8"' if browser else "Bearer"
        response = error_response(
            401, "unauthorized", message, headers={"WWW-Authenticate": challenge}
        )
        await response(scope, receive, send)

    async def _admit(self, caller: Client, scope: Scope, receive: Receive, send: Send) -> None:
        logs.annotate(key=caller.name)
        if scope["path"] in self.admin_paths and not caller.admin:
            response = error_response(
                403,
                "forbidden",
                f"key {caller.name!r} is not an admin key (admin: true in CEREBRUM_CLIENT_KEYS)",
            )
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["client"] = client_identity(caller.name)
        state["caller"] = caller
        await self.app(scope, receive, send)

    def _known(self, offered: bytes) -> Client | None:
        found = None
        for key, client in self.keys:  # compare with every key: no early exit, no timing hint
            if hmac.compare_digest(offered, key):
                found = client
        return found


def _offered_key(authorization: str) -> bytes | None:
    """The key of ``Bearer KEY``, or the password of ``Basic base64(user:KEY)``."""
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return None
    if scheme.lower() == "bearer":
        return credentials.encode()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return None
        _, colon, password = decoded.partition(b":")
        return password if colon and password else None
    return None
