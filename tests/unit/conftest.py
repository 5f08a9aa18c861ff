"""Unit-test fixtures for the orchestrator: settings, a fake llama-server, an app client.

The orchestrator is imported inside the fixtures, so the prompt pipeline's unit tests in
this directory do not depend on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.unit.fakes import FakeLlama

if TYPE_CHECKING:
    from cerebrum.settings import Settings

BACKEND = "http://vps.test:9000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_settings(**overrides: Any) -> Settings:
    from cerebrum.settings import Settings

    values: dict[str, Any] = {
        "api_key": "backend-secret-key",
        "backends": [BACKEND],
        "models": [
            {"alias": "m1", "model": "m1", "context_size": 2048},
            {"alias": "chat", "model": "c1", "context_size": 2048, "format": "chat"},
        ],
        "ping_interval": 5.0,
        "retries": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def fake_llama() -> FakeLlama:
    return FakeLlama()


@pytest.fixture
def app_client(
    fake_llama: FakeLlama,
) -> Callable[..., httpx.AsyncClient]:
    """``app_client(**settings)``: an httpx client on the ASGI app, as a loopback caller."""

    def build(client_ip: str = "127.0.0.1", **overrides: Any) -> httpx.AsyncClient:
        from cerebrum.api.main import create_app

        app = create_app(make_settings(**overrides), transport=fake_llama.transport())
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://cerebrum.test")

    return build


@pytest.fixture
async def client(app_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as http:
        yield http
