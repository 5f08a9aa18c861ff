"""Who is calling: a client key's name, its limits and whether it may read the admin endpoints.

The name is what logs, usage, metrics and sessions see; the key itself stays with the
authentication middleware and never leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """A key's own limits (None: unlimited); another key's traffic never counts against them."""

    requests_per_minute: int | None = None
    concurrent: int | None = None


@dataclass(frozen=True, slots=True)
class Client:
    """A configured client key, by name (the key itself is not kept here)."""

    name: str
    limits: Limits = Limits()
    admin: bool = False


# Keyless mode: clients on this machine only, who are the operator (admin endpoints too).
LOOPBACK = Client("loopback", admin=True)
