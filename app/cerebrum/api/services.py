"""The parts a request needs (registry, router, limiter, stats, the prompt pipeline's cache),
built once from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from cerebrum.core.breaker import CircuitBreaker
from cerebrum.core.documents import Documents
from cerebrum.core.limiter import Limiter
from cerebrum.core.llama_server import LlamaServerClient
from cerebrum.core.registry import Registry
from cerebrum.core.router import Backend, Router
from cerebrum.core.stats import Stats
from cerebrum.core.token_counts import TokenCounts
from cerebrum.core.transport import LeanTransport
from cerebrum.retrieval import PipelineCache
from cerebrum.retrieval.cache import MB
from cerebrum.settings import Settings


@dataclass(slots=True)
class Services:
    settings: Settings
    http: httpx.AsyncClient
    registry: Registry
    router: Router
    limiter: Limiter
    stats: Stats
    pipeline_cache: PipelineCache
    documents: Documents
    token_counts: TokenCounts

    @classmethod
    def build(
        cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> Services:
        """Wire everything from the settings; ``transport`` replaces the network in tests."""
        registry = Registry(settings.models, settings.default_model, settings.backends)
        http = _http_client(settings, registry.backends, transport)
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        backends = [
            Backend(
                LlamaServerClient(
                    url,
                    http,
                    api_key,
                    health_timeout=settings.health_timeout,
                    max_bytes=settings.backend_max_bytes,
                ),
                CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown),
            )
            for url in registry.backends
        ]
        router = Router(
            backends,
            retries=settings.retries,
            first_token_timeout=settings.first_token_timeout,
            idle_timeout=settings.idle_timeout,
            slots=settings.backend_slots,
        )
        limiter = Limiter(
            settings.max_in_flight,
            settings.max_queue,
            settings.queue_timeout,
            retry_after=settings.shed_retry_after,
        )
        pipeline_cache = PipelineCache(settings.pipeline_cache_mb * MB)
        return cls(
            settings,
            http,
            registry,
            router,
            limiter,
            Stats(),
            pipeline_cache,
            Documents(router.placement),
            TokenCounts(),
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.http.aclose()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _http_client(
    settings: Settings, urls: Sequence[str], transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    """One client for every backend; first-token and idle limits are applied per stream.

    Plain-http backends get the lean transport (a new connection per request, parsed by
    httptools); with a TLS backend, httpx's own pooled transport serves them all.
    """
    pool = settings.max_in_flight + 8
    # Loading the CA bundle costs resident memory in every process: only a TLS backend needs it.
    tls = any(url.startswith("https://") for url in urls)
    if transport is None and not tls:
        transport = LeanTransport()
    return httpx.AsyncClient(
        verify=tls,
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=None,
            write=30.0,
            pool=settings.connect_timeout,
        ),
        # llama-server (cpp-httplib) drops idle connections after 5 s: stop reusing them
        # before that, or a request races the close and fails as "server disconnected".
        limits=httpx.Limits(
            max_connections=pool * 2, max_keepalive_connections=pool, keepalive_expiry=2.0
        ),
        trust_env=False,
        transport=transport,
    )
