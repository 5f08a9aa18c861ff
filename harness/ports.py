"""Loopback ports and waiting: a free port to listen on, and polling until something holds."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.05) -> T:
    """Call `check` until it returns something truthy, for at most `timeout` seconds.

    Returns that value, or the last (falsy) one when the time ran out; `check` is always
    called once more at the deadline, so a slow poll still sees the final state.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    return check()
