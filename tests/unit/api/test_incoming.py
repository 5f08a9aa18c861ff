"""api/incoming.py: the body parsed once, and work stopped when the client no longer wants it."""

from __future__ import annotations

import anyio
import pytest
from cerebrum.api.incoming import CLIENT_CLOSED, client_left, parse, until_disconnect
from cerebrum.api.schemas import CompleteRequest
from cerebrum.core.errors import SupersededError
from pydantic import ValidationError

pytestmark = pytest.mark.anyio


class Staying:
    """A request whose client stays until the test ends."""

    def __init__(self, body: bytes = b"") -> None:
        self._body = body

    async def body(self) -> bytes:
        return self._body

    async def receive(self) -> dict[str, str]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


class Leaving(Staying):
    """A request whose client hangs up at once."""

    async def receive(self) -> dict[str, str]:
        return {"type": "http.disconnect"}


async def test_parse_validates_the_body_against_the_route_model():
    body = await parse(Staying(b'{"prompt": "def f", "max_tokens": 4}'), CompleteRequest)
    assert (body.prompt, body.max_tokens) == ("def f", 4)


async def test_parse_names_the_bad_field():
    with pytest.raises(ValidationError) as caught:
        await parse(Staying(b'{"prompt": "x", "max_tokens": 0}'), CompleteRequest)
    assert caught.value.errors()[0]["loc"] == ("max_tokens",)


async def test_until_disconnect_returns_what_the_work_returns():
    async def work() -> int:
        return 7

    assert await until_disconnect(Staying(), work()) == 7


async def test_until_disconnect_cancels_the_work_of_a_client_that_left():
    cancelled = anyio.Event()

    async def work() -> int:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        return 1

    assert await until_disconnect(Leaving(), work()) is None
    assert cancelled.is_set()


async def test_until_disconnect_stops_superseded_work_with_superseded_error():
    superseded = anyio.Event()
    superseded.set()

    async def work() -> int:
        await anyio.sleep_forever()
        return 1

    with pytest.raises(SupersededError):
        await until_disconnect(None, work(), superseded)


async def test_until_disconnect_reraises_the_works_own_error_unwrapped():
    async def work() -> int:
        raise KeyError("mine")

    with pytest.raises(KeyError):
        await until_disconnect(Staying(), work())


def test_a_client_that_left_is_answered_499():
    assert client_left().status_code == CLIENT_CLOSED == 499
