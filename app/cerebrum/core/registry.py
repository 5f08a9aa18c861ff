"""The configured models: one description each (``ModelSpec``), validated once, looked up by
the alias a client sends.

A ``ModelSpec`` is what ``CEREBRUM_MODELS`` holds, validated by pydantic as settings load;
each layer reads what it needs from it: the router its ``backends``, the backend client its
``model`` id, the prompt pipeline its ``profile`` (``retrieval.ModelProfile``, derived here,
which owns the rules of a model's prompt side such as "format fim needs FIM tokens").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Self

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from cerebrum.core.errors import UnknownModelError
from cerebrum.retrieval.request import FimTokens, ModelProfile, PromptFormat


def _backend_base(url: AnyHttpUrl) -> str:
    """A backend's base URL as the orchestrator uses it everywhere: no trailing slash, and
    no ``user:pass@`` (it would be shown in logs; the key goes in CEREBRUM_API_KEY)."""
    if url.username or url.password:
        raise ValueError(
            "a backend URL must not carry credentials (user:pass@); "
            "the backend key goes in CEREBRUM_API_KEY"
        )
    return str(url).rstrip("/")


if TYPE_CHECKING:
    BackendUrl = str  # what the validator below makes of it
else:
    BackendUrl = Annotated[AnyHttpUrl, AfterValidator(_backend_base)]


class ModelSpec(BaseModel):
    """One configured model: how clients name it, how backends name it, who serves it, and
    its prompt side (``profile``: context size, format, FIM tokens) for the pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The name clients use (`model` field), e.g. qwen_7b.",
    )
    model: str = Field(
        min_length=1,
        max_length=256,
        description="The backend's model id (llama-server router mode picks a model by it).",
    )
    context_size: int = Field(
        default=4096, ge=256, le=1_048_576, description="The backend's context size in tokens."
    )
    format: PromptFormat = Field(
        default="completion",
        description="How prompts are sent: plain completion, chat messages, or fill-in-the-middle.",
    )
    fim: FimTokens | None = Field(
        default=None,
        description=(
            'FIM tokens as the tokenizer spells them, {"prefix", "suffix", "middle"} and '
            'optionally "file_separator" and "repo_name"; required for format fim. "order": '
            '"psm" (default) or "spm" (suffix first, for models trained so). '
            '"max_suffix_tokens": keep at most this many tokens of the suffix (prefix first, '
            "each keystroke re-reads it)."
        ),
    )
    backends: tuple[BackendUrl, ...] = Field(
        default=(),
        description="Backends serving this model (default: all CEREBRUM_BACKENDS).",
    )

    @cached_property
    def profile(self) -> ModelProfile:
        return ModelProfile(context_size=self.context_size, format=self.format, fim=self.fim)

    @model_validator(mode="after")
    def _valid_profile(self) -> Self:
        try:
            self.profile  # noqa: B018 - built once here, so its rules are checked as settings load
        except ValueError as exc:
            raise ValueError(f"model {self.alias!r}: {exc}") from None
        return self


class Registry:
    """The configured models, looked up by the alias a client sends; a model naming no
    backends is served by ``everywhere`` (CEREBRUM_BACKENDS)."""

    def __init__(
        self,
        models: Iterable[ModelSpec],
        default: str | None = None,
        everywhere: Sequence[str] = (),
    ) -> None:
        self._models = {
            spec.alias: spec
            if spec.backends
            else spec.model_copy(update={"backends": tuple(everywhere)})
            for spec in models
        }
        if not self._models:
            raise ValueError("a registry needs at least one model")
        self.default = default or next(iter(self._models))
        if self.default not in self._models:
            raise ValueError(f"default model {self.default!r} is not configured")
        if not all(spec.backends for spec in self._models.values()):
            raise ValueError("every model needs a backend")

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
