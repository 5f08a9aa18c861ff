"""The parts a request needs (registry, router, limiter, stats, the prompt pipeline's cache),
built once from the settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from cerebrum.core.acceptance import Acceptance
from cerebrum.core.breaker import CircuitBreaker
from cerebrum.core.documents import Documents
from cerebrum.core.key_limits import KeyLimits
from cerebrum.core.limiter import Limiter
from cerebrum.core.llama_server import LlamaServerClient
from cerebrum.core.registry import Registry
from cerebrum.core.router import Backend, Router
from cerebrum.core.stats import Stats
from cerebrum.core.token_counts import TokenCounts
from cerebrum.core.transport import LeanTransport
from cerebrum.core.usage import KeyTotals, UsageStore
from cerebrum.retrieval import PipelineCache
from cerebrum.retrieval.cache import MB
from cerebrum.settings import Settings

log = logging.getLogger("cerebrum.services")


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
    usage: UsageStore | None  # None: usage is not recorded (no CEREBRUM_USAGE_DB)
    key_limits: KeyLimits
    key_totals: KeyTotals  # usage per key and model since start (/metrics)
    acceptance: Acceptance  # suggestions pending per editor session

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
                    name=f"backend {number}",  # what clients see: never the URL
                    max_answer_bytes=settings.max_answer_bytes,
                ),
                CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown),
            )
            for number, url in enumerate(registry.backends, start=1)
        ]
        for backend in backends:  # the one place a name is matched with its URL
            log.info("backend", extra={"backend": backend.name, "url": backend.url})
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
        usage_path = settings.usage_path()
        usage = UsageStore(usage_path, settings.usage_retention_days) if usage_path else None
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
            usage,
            KeyLimits(busy_retry_after=settings.shed_retry_after),
            KeyTotals(),
            Acceptance(),
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.usage is not None:
            self.usage.start()
        try:
            yield
        finally:
            await self.http.aclose()
            if self.usage is not None:
                await anyio.to_thread.run_sync(self.usage.close)


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
