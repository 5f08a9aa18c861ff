"""Cache affinity: the same session goes to the same backend, whatever the number of backends.

llama-server keeps a slot's prompt in its KV cache, so the request after a warm-up or a
keystroke is cheap only on the backend that processed the one before. Rendezvous (highest
random weight) hashing ranks the backends for a session key: every orchestrator ranks them
the same way without shared state, and a backend that leaves or comes back moves only the
sessions it wins, never the others'.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _weight(key: str, url: str) -> int:
    digest = hashlib.blake2b(f"{key}\0{url}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def rank(key: str, urls: Sequence[str]) -> list[str]:
    """``urls`` ordered by preference for ``key``: the first is the session's home backend,
    the next ones its fallbacks, in a fixed order for that key."""
    return sorted(urls, key=lambda url: _weight(key, url), reverse=True)
