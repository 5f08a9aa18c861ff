"""Settings: environment variables prefixed ``CEREBRUM_``, or ``.env`` in the working directory.

Every field below is one variable (``api_key`` is ``CEREBRUM_API_KEY``); its description is
the documentation the deployment's ``.env`` template repeats. Lists accept JSON
(``["a","b"]``) or, for plain strings, a comma-separated value (``a,b``).
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cerebrum.core.clients import LOOPBACK, Client, Limits
from cerebrum.core.registry import BackendUrl, ModelSpec
from cerebrum.sse_reader import DEFAULT_MAX_BYTES

ENV_PREFIX = "CEREBRUM_"


class ClientKeySetting(BaseModel):
    """One entry of ``CEREBRUM_CLIENT_KEYS``: a bare key, or a key with a name and limits.

    A bare string is named by its place in the list, ``key-1`` for the first: the name, not
    the key, is what usage, logs and metrics record, so name keys whose usage you follow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$",
        description="What logs, usage and metrics call this key, e.g. alice or ci.",
    )
    key: SecretStr = Field(min_length=1, max_length=1024, description="The bearer key itself.")
    requests_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Requests a minute (429 beyond)."
    )
    concurrent: int | None = Field(
        default=None, ge=1, le=10_000, description="Inference requests at once (429 beyond)."
    )
    admin: bool = Field(default=False, description="May read /v1/usage and /dashboard.")

    def client(self) -> Client:
        """The name, limits and rights the layers see (never the key)."""
        return Client(self.name, Limits(self.requests_per_minute, self.concurrent), self.admin)


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
    client_keys: Annotated[list[ClientKeySetting], NoDecode] = Field(
        default_factory=list,
        description=(
            "Keys clients must send as `Authorization: Bearer`: a JSON list of keys or of "
            '{"name", "key", "requests_per_minute"?, "concurrent"?, "admin"?}, or comma-'
            "separated keys (named key-1, key-2, ... by place). Empty: only loopback "
            "clients are served (named loopback, admin)."
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
    max_answer_bytes: int = Field(
        default=32 * 1_048_576,
        ge=1_048_576,
        le=1024 * 1_048_576,
        description=(
            "Largest answer read from a backend for one request, in all (n_probs or n_cmpl "
            "can make one huge); beyond, that request alone ends with 502 answer_too_large."
        ),
    )

    usage_db: Path | None = Field(
        default=None,
        description=(
            "SQLite file of the usage per client key name, model and UTC day (created if "
            "absent; the thing to back up). Default: usage.sqlite3 in the service's systemd "
            "StateDirectory ($STATE_DIRECTORY) when it has one; without either, usage is "
            "not recorded."
        ),
    )
    usage_retention_days: int = Field(
        default=400,
        ge=1,
        le=36_500,
        description="Days of usage kept in CEREBRUM_USAGE_DB; older days are deleted daily.",
    )

    @field_validator("usage_db", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def usage_path(self) -> Path | None:
        """Where usage is recorded: CEREBRUM_USAGE_DB, else in systemd's state directory."""
        if self.usage_db is not None:
            return self.usage_db
        state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return Path(state) / "usage.sqlite3" if state else None

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _decode_addresses(cls, value: Any) -> Any:
        return _json_or_csv(value)

    @model_validator(mode="after")
    def _keyless_only_alone_on_loopback(self) -> Self:
        """Without client keys only loopback peers are served: that holds only when nothing
        but this host can connect and no proxy stands in front (a proxy on the same host
        connects from loopback, whoever its client is)."""
        if self.client_keys:
            return self
        if self.forwarded_allow_ips:
            raise ValueError(
                "CEREBRUM_CLIENT_KEYS is empty (keyless: loopback clients only) while "
                "CEREBRUM_FORWARDED_ALLOW_IPS trusts a proxy: every client of that proxy would "
                "be served without a key; set CEREBRUM_CLIENT_KEYS, or empty "
                "CEREBRUM_FORWARDED_ALLOW_IPS and serve no proxy"
            )
        if not _is_loopback_host(self.host):
            raise ValueError(
                f"CEREBRUM_CLIENT_KEYS is empty (keyless: loopback clients only) while "
                f"CEREBRUM_HOST is {self.host!r}, beyond loopback: set CEREBRUM_CLIENT_KEYS, "
                "or bind CEREBRUM_HOST to 127.0.0.1 (CEREBRUM_FORWARDED_ALLOW_IPS empty)"
            )
        return self

    @field_validator("backends", mode="before")
    @classmethod
    def _decode_list(cls, value: Any) -> Any:
        return _json_or_csv(value)

    @field_validator("client_keys", mode="before")
    @classmethod
    def _decode_client_keys(cls, value: Any) -> Any:
        """Bare keys become ``{"name": "key-N", "key": ...}`` (N: the place, from 1)."""
        entries = _json_or_csv(value)
        if not isinstance(entries, list):
            return entries
        return [
            {"name": f"key-{place}", "key": entry} if isinstance(entry, str) else entry
            for place, entry in enumerate(entries, start=1)
        ]

    @model_validator(mode="after")
    def _check_client_keys(self) -> Self:
        """Names are unique and not ``loopback``; a key is listed once (one name each)."""
        names = [entry.name for entry in self.client_keys]
        for index, name in enumerate(names):
            if name == LOOPBACK.name or names.index(name) != index:
                reason = "is reserved" if name == LOOPBACK.name else "is used twice"
                raise ValueError(f"CEREBRUM_CLIENT_KEYS[{index}]: the name {name!r} {reason}")
        keys = [entry.key.get_secret_value() for entry in self.client_keys]
        for index, key in enumerate(keys):
            if keys.index(key) != index:
                raise ValueError(
                    f"CEREBRUM_CLIENT_KEYS[{index}] ({names[index]!r}): the same key as "
                    f"{names[keys.index(key)]!r}; a key is listed once"
                )
        return self

    def clients(self) -> list[tuple[str, Client]]:
        """Each client key with the name, limits and rights it stands for."""
        return [(entry.key.get_secret_value(), entry.client()) for entry in self.client_keys]

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


def _is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); not 0.0.0.0 or a name."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and ``.env`` (raises ValidationError)."""
    return Settings(**overrides)
