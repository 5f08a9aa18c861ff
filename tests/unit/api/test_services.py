"""api/services.py: what a request needs, built once from the settings, closed with the app."""

from __future__ import annotations

import pytest
from cerebrum.api.services import Services
from cerebrum.core.transport import LeanTransport
from starlette.applications import Starlette

from tests.unit.conftest import make_settings

pytestmark = pytest.mark.anyio


def test_every_backend_url_gets_one_backend_with_its_own_breaker():
    settings = make_settings(backends=["http://a.test:9000", "http://b.test:9000"])
    services = Services.build(settings)
    backends = services.router.backends
    assert [b.url for b in backends] == ["http://a.test:9000", "http://b.test:9000"]
    assert backends[0].breaker is not backends[1].breaker


def test_plain_http_backends_are_reached_through_the_lean_transport():
    services = Services.build(make_settings())
    assert isinstance(services.http._transport, LeanTransport)


def test_a_tls_backend_gets_httpxs_own_verified_transport():
    services = Services.build(make_settings(backends=["https://vps.test:9000"]))
    assert not isinstance(services.http._transport, LeanTransport)


async def test_the_backends_client_is_closed_when_the_app_stops():
    services = Services.build(make_settings())
    async with services.lifespan(Starlette()):
        assert not services.http.is_closed
    assert services.http.is_closed
