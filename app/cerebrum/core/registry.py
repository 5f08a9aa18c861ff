"""Model registry: the alias a client sends → backend model id, backends, prompt profile."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cerebrum.core.errors import UnknownModelError
from cerebrum.retrieval.request import ModelProfile


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One configured model: how clients name it, how backends name it, who serves it, and
    its prompt side (``profile``: context size, format, FIM tokens) for the pipeline."""

    alias: str
    model: str  # the backend's model id
    backends: tuple[str, ...]  # base URLs without a trailing slash
    profile: ModelProfile


class Registry:
    """The configured models, looked up by the alias a client sends."""

    def __init__(self, models: Iterable[ModelSpec], default: str | None = None) -> None:
        self._models = {spec.alias: spec for spec in models}
        if not self._models:
            raise ValueError("a registry needs at least one model")
        self.default = default or next(iter(self._models))
        if self.default not in self._models:
            raise ValueError(f"default model {self.default!r} is not configured")

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    @property
    def aliases(self) -> list[str]:
        return list(self._models)

    @property
    def backends(self) -> list[str]:
        """Every backend URL that serves at least one model, in configuration order."""
        seen: dict[str, None] = {}
        for spec in self._models.values():
            seen.update(dict.fromkeys(spec.backends))
        return list(seen)

    def resolve(self, alias: str | None) -> ModelSpec:
        """The model for ``alias``; the default for None; ``UnknownModelError`` otherwise."""
        if alias is None:
            return self._models[self.default]
        try:
            return self._models[alias]
        except KeyError:
            raise UnknownModelError(alias, self.aliases) from None
