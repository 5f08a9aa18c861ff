"""Where the orchestrator is and which key to send: flags, then environment, then a ``.env``.

Each of the two is taken from the first place that has it:

- URL: ``--url``, ``CEREBRUM_URL``, the ``.env``'s ``CEREBRUM_HOST``/``CEREBRUM_PORT`` (a
  wildcard bind address such as ``0.0.0.0`` or ``::`` is reached on 127.0.0.1), else
  http://127.0.0.1:7000;
- key: ``--key``, ``CEREBRUM_CLIENT_KEY``, the first of the ``.env``'s
  ``CEREBRUM_CLIENT_KEYS`` (JSON list or comma-separated, as the orchestrator reads it), else
  none (an orchestrator without client keys serves loopback clients).

The ``.env`` is the orchestrator's own (``--env-file``; the launcher passes the one of the
install). It is read only when a flag or the environment leaves something to find, so a
user who may not read it can still pass both.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "7000"
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
URL_VARIABLE = "CEREBRUM_URL"
KEY_VARIABLE = "CEREBRUM_CLIENT_KEY"
_WILDCARDS = {"", "0.0.0.0", "::", "[::]", "*"}


class ConfigError(Exception):
    """The configuration cannot be used; the message names what to fix."""


@dataclass(frozen=True, slots=True)
class Config:
    url: str
    url_source: str  # "--url", "CEREBRUM_URL", the .env's path, or "default"
    key: str | None = field(default=None, repr=False)
    key_source: str | None = None

    def describe(self) -> str:
        """The URL and where the key came from, never the key."""
        key = f"key from {self.key_source}" if self.key else "no key"
        return f"{self.url} ({key})"


def resolve(
    *,
    url: str | None = None,
    key: str | None = None,
    environ: Mapping[str, str],
    env_file: Path | None = None,
) -> Config:
    """The URL and key from the flags, the environment and ``env_file``, in that order."""
    found_url = _first((url, "--url"), (environ.get(URL_VARIABLE), URL_VARIABLE))
    found_key = _first((key, "--key"), (environ.get(KEY_VARIABLE), KEY_VARIABLE))
    if env_file is not None and (found_url is None or found_key is None):
        values = read_env_file(env_file)
        if found_url is None:
            found_url = (url_from_settings(values), str(env_file))
        if found_key is None:
            found_key = _first((first_key(values.get("CEREBRUM_CLIENT_KEYS", "")), str(env_file)))
    text, url_source = found_url or (DEFAULT_URL, "default")
    secret, key_source = found_key or (None, None)
    return Config(normalize_url(text), url_source, secret, key_source)


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a ``.env`` file (names upper-cased, as pydantic-settings matches them)."""
    try:
        with path.open(encoding="utf-8") as stream:
            values = dotenv_values(stream=stream)
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path} ({exc.strerror or exc}); pass --url and --key, or set "
            f"{URL_VARIABLE} and {KEY_VARIABLE}"
        ) from None
    return {name.upper(): value for name, value in values.items() if value is not None}


def url_from_settings(values: Mapping[str, str]) -> str:
    """The URL the orchestrator configured by ``values`` answers on, seen from this machine."""
    host = values.get("CEREBRUM_HOST", DEFAULT_HOST).strip()
    port = values.get("CEREBRUM_PORT", DEFAULT_PORT).strip() or DEFAULT_PORT
    if host in _WILDCARDS:
        host = DEFAULT_HOST
    elif _is_ipv6(host):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def first_key(value: str) -> str | None:
    """The first key of a CEREBRUM_CLIENT_KEYS value (JSON list of keys or of
    ``{"name", "key", ...}`` entries, or comma-separated)."""
    text = value.strip()
    if text.startswith("["):
        try:
            keys = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError("CEREBRUM_CLIENT_KEYS is not a valid JSON list") from None
        entries = keys if isinstance(keys, list) else []
        candidates = [
            str(item.get("key", "") if isinstance(item, dict) else item).strip() for item in entries
        ]
    else:
        candidates = [item.strip() for item in text.split(",")]
    return next((item for item in candidates if item), None)


def normalize_url(text: str) -> str:
    """``host:port`` or a URL, as an http(s) URL without a trailing slash."""
    url = text.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {text!r}")
    return url.rstrip("/")


def _first(*candidates: tuple[str | None, str]) -> tuple[str, str] | None:
    """The first (value, source) whose value is set and not blank."""
    for value, source in candidates:
        if value is not None and value.strip():
            return value.strip(), source
    return None


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False
