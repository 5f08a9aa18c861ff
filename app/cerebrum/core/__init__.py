"""Backend access: model registry, router, circuit breakers, load limiter, statistics.

No HTTP framework here and nothing from ``cerebrum.api``: the API layer calls in.
"""
