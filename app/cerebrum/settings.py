"""Settings: environment variables prefixed ``CEREBRUM_``, or ``.env`` in the working directory.

Every field below is one variable (``api_key`` is ``CEREBRUM_API_KEY``); its description is
the documentation the deployment's ``.env`` template repeats. Lists accept JSON
(``["a","b"]``) or, for plain strings, a comma-separated value (``a,b``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cerebrum.core.registry import BackendUrl, ModelSpec
from cerebrum.sse_reader import DEFAULT_MAX_BYTES

ENV_PREFIX = "CEREBRUM_"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc})") from None


def _json_or_csv(value: Any) -> Any:
    """Decode a list given as JSON or as comma-separated text."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        return _json(text)
    return [item.strip() for item in text.split(",") if item.strip()]


class Settings(BaseSettings):
    """The orchestrator's configuration (``CEREBRUM_*`` variables)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    api_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key sent to llama-server as `Authorization: Bearer`; must match the backend's "
            "key (LLAMA_API_KEY in the VPS's /etc/llama-server/llama-server.env). Never logged."
        ),
    )
    backends: Annotated[list[BackendUrl], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8080"],
        min_length=1,
        description="llama-server base URLs, JSON list or comma-separated.",
    )
    models: Annotated[list[ModelSpec], NoDecode] = Field(
        min_length=1,
        description=(
            "JSON list of models: "
            '[{"alias": "qwen_7b", "model": "qwen2.5-coder-7b", "context_size": 8192, '
            '"format": "completion"}]; format is completion, chat or fim (with "fim": '
            '{"prefix", "suffix", "middle"}).'
        ),
    )
    default_model: str | None = Field(
        default=None,
        description="Alias used when a request names no model (default: the first model).",
    )
    client_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description=(
            "Keys clients must send as `Authorization: Bearer`, JSON list or comma-separated. "
            "Empty: only loopback clients are served."
        ),
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="Bind address.")
    port: int = Field(default=7000, ge=1, le=65535, description="Bind port.")
    max_in_flight: int = Field(
        default=4, ge=1, le=1024, description="Inference requests served at once."
    )
    max_queue: int = Field(
        default=16,
        ge=0,
        le=4096,
        description="Inference requests waiting for a free place; beyond, 503 at once.",
    )
    queue_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds a queued request waits before 503."
    )
    connect_timeout: float = Field(
        default=3.0, gt=0, le=120, description="Seconds to connect to a backend."
    )
    first_token_timeout: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Seconds to wait for the first token (includes loading the model).",
    )
    idle_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds a started stream may stay silent."
    )
    health_timeout: float = Field(
        default=2.0, gt=0, le=60, description="Seconds for backend health and model probes."
    )
    ping_interval: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds of silence after which a stream sends an SSE keep-alive comment.",
    )
    send_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "Seconds one write to a streaming client may wait; a client that stops reading "
            "longer is dropped and its generation cancelled."
        ),
    )
    breaker_failures: int = Field(
        default=3, ge=1, le=1000, description="Consecutive failures that open a backend's circuit."
    )
    breaker_cooldown: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds an open circuit waits before letting one probe request through.",
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Extra attempts before the first token (never after a token was sent).",
    )
    shed_retry_after: int = Field(
        default=1, ge=1, le=3600, description="Retry-After seconds sent with a shed request."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=64 * 1_048_576, description="Largest request body (413)."
    )
    pipeline_cache_mb: int = Field(
        default=32,
        ge=0,
        le=4096,
        description=(
            "Megabytes the prompt pipeline keeps about recent context (chunks, line sets, "
            "identifier counts, token costs), least recently used first out; 0 keeps nothing."
        ),
    )
    pipeline_timeout: float = Field(
        default=3.0,
        gt=0,
        le=600,
        description=(
            "Seconds the prompt pipeline may spend on a request's context; past it the "
            "context is left out and the prompt is sent alone (context_skipped in the plan)."
        ),
    )
    backend_slots: int = Field(
        default=2,
        ge=1,
        le=256,
        description=(
            "Slots of one backend (llama-server's --parallel): each holds one document's "
            "prompt (id_slot); past that many documents, the least recently typed one loses "
            "its slot."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="debug, info, warning or error."
    )
    # Exposure to clients and backends: every wait and every read has a bound.
    body_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description=(
            "Seconds a client has to send its whole request body (408 beyond); the body is "
            "read before the request takes a load-shedding place."
        ),
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a client has to send a request's headers; the connection is closed.",
    )
    keepalive_timeout: int = Field(
        default=5, ge=1, le=600, description="Seconds an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        default=128,
        ge=8,
        le=65536,
        description="Client connections served at once; requests beyond get 503 at once.",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Proxy addresses trusted to set X-Forwarded-For (JSON list or comma-separated; "
            "uvicorn's syntax). Empty: proxy headers are ignored and the peer address counts."
        ),
    )
    backend_max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=65536,
        le=256 * 1_048_576,
        description=(
            "Largest piece read from a backend at once: one SSE event (llama-server's last "
            "event repeats the prompt) or a /health or /models answer; larger is a backend error."
        ),
    )

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _decode_addresses(cls, value: Any) -> Any:
        return _json_or_csv(value)

    @field_validator("backends", "client_keys", mode="before")
    @classmethod
    def _decode_list(cls, value: Any) -> Any:
        return _json_or_csv(value)

    @field_validator("models", mode="before")
    @classmethod
    def _decode_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _json(value) if value.strip() else []
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_models(self) -> Self:
        aliases = [model.alias for model in self.models]
        duplicates = sorted({alias for alias in aliases if aliases.count(alias) > 1})
        if duplicates:
            raise ValueError(f"CEREBRUM_MODELS: duplicate alias {', '.join(duplicates)}")
        if self.default_model is not None and self.default_model not in aliases:
            raise ValueError(
                f"CEREBRUM_DEFAULT_MODEL: {self.default_model!r} is not one of "
                f"the aliases in CEREBRUM_MODELS ({', '.join(aliases)})"
            )
        return self


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and ``.env`` (raises ValidationError)."""
    return Settings(**overrides)
