"""Model registry: alias → backend model id, context size, prompt format, FIM tokens, backends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from cerebrum.core.errors import UnknownModelError

Format = Literal["completion", "chat", "fim"]


@dataclass(frozen=True, slots=True)
class FimTokens:
    prefix: str
    suffix: str
    middle: str
    file_separator: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    alias: str
    model: str
    context_size: int
    format: Format
    backends: tuple[str, ...]
    fim: FimTokens | None = None


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
