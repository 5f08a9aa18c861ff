"""settings.py and __main__.py: environment, .env, and one clear line for a bad setting."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from cerebrum.__main__ import describe_error
from cerebrum.core.registry import Registry
from cerebrum.retrieval import FimTokens, ModelProfile
from cerebrum.settings import Settings
from pydantic import ValidationError

MODELS = json.dumps([{"alias": "qwen_7b", "model": "qwen2.5-coder-7b", "context_size": 8192}])


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("CEREBRUM_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CEREBRUM_MODELS", MODELS)
    return monkeypatch


def error_line() -> str:
    with pytest.raises(ValidationError) as caught:
        Settings()
    return describe_error(caught.value)


def test_reads_prefixed_environment_variables(env):
    env.setenv("CEREBRUM_PORT", "7100")
    env.setenv("CEREBRUM_API_KEY", "k")
    settings = Settings()
    assert settings.port == 7100
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "k"
    assert settings.models[0].alias == "qwen_7b"


def test_defaults_bind_loopback_on_port_7000(env):
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 7000)
    assert Registry(settings.models, settings.default_model, settings.backends).default == "qwen_7b"


def test_backends_accept_a_comma_separated_list(env):
    env.setenv("CEREBRUM_BACKENDS", "http://a:9000, http://b:9000")
    assert [str(url) for url in Settings().backends] == ["http://a:9000", "http://b:9000"]


def test_backends_accept_a_json_list(env):
    env.setenv("CEREBRUM_BACKENDS", '["http://a:9000"]')
    assert len(Settings().backends) == 1


def test_client_keys_are_secret_in_repr(env):
    env.setenv("CEREBRUM_CLIENT_KEYS", "alpha,beta")
    settings = Settings()
    assert len(settings.client_keys) == 2
    assert "alpha" not in repr(settings)


def test_reads_dotenv_from_the_working_directory(env, tmp_path):
    (tmp_path / ".env").write_text("CEREBRUM_MAX_IN_FLIGHT=7\n")
    assert Settings().max_in_flight == 7


def test_invalid_port_names_the_setting(env):
    env.setenv("CEREBRUM_PORT", "seventy")
    assert error_line().startswith("CEREBRUM_PORT: ")


def test_invalid_models_json_names_the_setting(env):
    env.setenv("CEREBRUM_MODELS", "[{oops")
    assert error_line().startswith("CEREBRUM_MODELS: invalid JSON")


def test_missing_model_field_names_the_entry(env):
    env.setenv("CEREBRUM_MODELS", '[{"alias": "a"}]')
    assert error_line() == "CEREBRUM_MODELS[0.model]: Field required"


def test_default_model_must_be_a_configured_alias(env):
    env.setenv("CEREBRUM_DEFAULT_MODEL", "gpt4")
    assert error_line() == (
        "CEREBRUM_DEFAULT_MODEL: 'gpt4' is not one of the aliases in CEREBRUM_MODELS (qwen_7b)"
    )


def test_model_specs_carry_the_prompt_profile_and_default_backends(env):
    fim = {"prefix": "<P>", "suffix": "<S>", "middle": "<M>", "file_separator": "<F>"}
    models = [
        {"alias": "a", "model": "m-a", "context_size": 2048, "format": "fim", "fim": fim},
        {"alias": "b", "model": "m-b", "backends": ["http://b:9000/"]},
    ]
    env.setenv("CEREBRUM_MODELS", json.dumps(models))
    env.setenv("CEREBRUM_BACKENDS", "http://x:8080/")
    settings = Settings()
    first, second = Registry(settings.models, settings.default_model, settings.backends)
    assert (first.alias, first.model, first.backends) == ("a", "m-a", ("http://x:8080",))
    assert first.profile == ModelProfile(2048, "fim", FimTokens("<P>", "<S>", "<M>", "<F>"))
    assert second.backends == ("http://b:9000",)
    assert second.profile == ModelProfile(4096, "completion")


@pytest.mark.parametrize(
    ("fim", "expected"),
    [
        ({"prefix": "", "suffix": "<S>", "middle": "<M>"}, "FIM token 'prefix'"),
        ({"prefix": "<P>", "suffix": "<S>", "middle": "<M>", "extra": "x"}, "fim.extra"),
        (
            {"prefix": "<P>", "suffix": "<S>", "middle": "<M>", "max_suffix_tokens": -1},
            "FIM max_suffix_tokens must be a whole number >= 0, got -1",
        ),
        (
            {"prefix": "<P>", "suffix": "<S>", "middle": "<M>", "max_suffix_tokens": "many"},
            "fim.max_suffix_tokens",
        ),
    ],
)
def test_fim_tokens_are_validated_once(env, fim, expected):
    models = [{"alias": "a", "model": "m", "format": "fim", "fim": fim}]
    env.setenv("CEREBRUM_MODELS", json.dumps(models))
    line = error_line()
    assert line.startswith("CEREBRUM_MODELS[0.fim")
    assert expected in line


def test_fim_format_requires_fim_tokens(env):
    env.setenv("CEREBRUM_MODELS", '[{"alias": "a", "model": "m", "format": "fim"}]')
    assert error_line() == (
        "CEREBRUM_MODELS[0]: model 'a': format 'fim' needs the model's FIM tokens ('fim')"
    )


def test_bad_backend_url_names_the_setting(env):
    env.setenv("CEREBRUM_BACKENDS", "not a url")
    assert error_line().startswith("CEREBRUM_BACKENDS[0]: ")


def run_cerebrum(tmp_path, *args: str, **env_values: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREBRUM_")}
    env.update(env_values)
    return subprocess.run(
        [sys.executable, "-m", "cerebrum", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


BACKEND_KEY = "backend-key-that-must-not-leak"
CLIENT_KEY = "client-key-that-must-not-leak"
URL_PASSWORD = "url-password-that-must-not-leak"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEREBRUM_MAX_IN_FLIGHT", "0"),
        ("CEREBRUM_PORT", "not-a-port"),
        ("CEREBRUM_BREAKER_FAILURES", "-1"),
        ("CEREBRUM_BACKENDS", f"http://llama:{URL_PASSWORD}@vps:99999"),  # the bad value a secret
        ("CEREBRUM_BACKENDS", f"http://llama:{URL_PASSWORD}@vps:9000"),  # credentials refused
        ("CEREBRUM_BODY_TIMEOUT", "0"),
        ("CEREBRUM_MAX_CONNECTIONS", "1"),
    ],
)
def test_process_exits_2_with_one_line_naming_the_bad_setting_and_no_secret(tmp_path, name, value):
    result = run_cerebrum(
        tmp_path,
        CEREBRUM_MODELS=MODELS,
        CEREBRUM_API_KEY=BACKEND_KEY,
        CEREBRUM_CLIENT_KEYS=CLIENT_KEY,
        **{name: value},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.endswith("\n")
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(rf"cerebrum: invalid setting {name}(\[\d+\])?: \w.*", line), line
    for secret in (BACKEND_KEY, CLIENT_KEY, URL_PASSWORD):
        assert secret not in result.stderr


def test_process_without_models_names_the_missing_setting(tmp_path):
    result = run_cerebrum(tmp_path)
    assert result.returncode == 2
    assert result.stderr == "cerebrum: invalid setting CEREBRUM_MODELS: Field required\n"


def test_check_flag_validates_without_serving(tmp_path):
    result = run_cerebrum(tmp_path, "--check", CEREBRUM_MODELS=MODELS)
    assert result.returncode == 0
    assert "settings ok" in result.stdout


def test_check_flag_validates_the_named_env_file(tmp_path):
    env_file = tmp_path / "candidate.env"
    env_file.write_text(f"CEREBRUM_MODELS='{MODELS}'\nCEREBRUM_PORT='70000'\n")
    result = run_cerebrum(tmp_path, "--check", "--env-file", str(env_file))
    assert result.returncode == 2
    assert result.stderr.startswith("cerebrum: invalid setting CEREBRUM_PORT: "), result.stderr

    env_file.write_text(f"CEREBRUM_MODELS='{MODELS}'\nCEREBRUM_PORT='7001'\n")
    result = run_cerebrum(tmp_path, "--check", "--env-file", str(env_file))
    assert result.returncode == 0, result.stderr


def test_unreadable_env_file_is_named(tmp_path):
    missing = tmp_path / "missing.env"
    result = run_cerebrum(tmp_path, "--check", "--env-file", str(missing))
    assert result.returncode == 2
    assert result.stderr == f"cerebrum: cannot read the settings file {missing}\n"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEREBRUM_BACKENDS", "http://admin:hunter2@vps:9000"),
        ("CEREBRUM_BACKENDS", "http://hunter2@vps:9000"),
        (
            "CEREBRUM_MODELS",
            json.dumps([{"alias": "a", "model": "m", "backends": ["http://u:hunter2@vps:1"]}]),
        ),
    ],
)
def test_backend_urls_with_credentials_are_refused_without_echoing_them(env, name, value):
    env.setenv(name, value)
    line = error_line()
    assert name in line
    assert "credentials" in line
    assert "hunter2" not in line


def test_forwarded_allow_ips_is_empty_by_default_and_accepts_a_list(env):
    assert Settings().forwarded_allow_ips == []
    env.setenv("CEREBRUM_CLIENT_KEYS", "a-client-key")
    env.setenv("CEREBRUM_FORWARDED_ALLOW_IPS", "10.0.0.1, 10.0.0.2")
    assert Settings().forwarded_allow_ips == ["10.0.0.1", "10.0.0.2"]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CEREBRUM_FORWARDED_ALLOW_IPS", "127.0.0.1", "CEREBRUM_FORWARDED_ALLOW_IPS"),
        ("CEREBRUM_HOST", "0.0.0.0", "CEREBRUM_HOST"),
        ("CEREBRUM_HOST", "192.168.1.20", "CEREBRUM_HOST"),
        ("CEREBRUM_HOST", "cm4.local", "CEREBRUM_HOST"),
    ],
)
def test_keyless_mode_refuses_a_trusted_proxy_or_a_bind_beyond_loopback(
    env, variable, value, named
):
    env.setenv(variable, value)
    line = error_line()
    assert "CEREBRUM_CLIENT_KEYS" in line
    assert named in line
    env.setenv("CEREBRUM_CLIENT_KEYS", "a-client-key")  # with keys, the same is fine
    assert Settings().client_keys


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_keyless_mode_starts_on_loopback(env, host):
    env.setenv("CEREBRUM_HOST", host)
    assert Settings().client_keys == []


def test_bare_client_keys_are_named_by_their_place(env):
    env.setenv("CEREBRUM_CLIENT_KEYS", "alpha,beta")
    assert [client.name for _, client in Settings().clients()] == ["key-1", "key-2"]


def test_named_client_keys_carry_their_limits_and_rights(env):
    entries = [
        {"name": "alice", "key": "k-alice", "requests_per_minute": 60, "concurrent": 2},
        {"name": "ops", "key": "k-ops", "admin": True},
        "k-bare",
    ]
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps(entries))
    clients = dict(Settings().clients())
    assert clients["k-alice"].limits.requests_per_minute == 60
    assert clients["k-alice"].limits.concurrent == 2
    assert not clients["k-alice"].admin
    assert clients["k-ops"].admin
    assert clients["k-bare"].name == "key-3"


def test_client_key_entries_are_secret_in_repr(env):
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps([{"name": "alice", "key": "sesame-123"}]))
    assert "sesame-123" not in repr(Settings())


@pytest.mark.parametrize("field", ["requests_per_minute", "concurrent"])
@pytest.mark.parametrize("value", [0, -5])
def test_a_client_key_limit_of_zero_or_less_is_refused_naming_it(env, field, value):
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps([{"name": "a", "key": "k", field: value}]))
    line = error_line()
    assert line.startswith(f"CEREBRUM_CLIENT_KEYS[0.{field}]")
    assert "greater than or equal to 1" in line


def test_duplicate_client_key_names_are_refused_naming_the_entry(env):
    entries = [{"name": "alice", "key": "k1"}, {"name": "alice", "key": "k2"}]
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps(entries))
    assert error_line() == "CEREBRUM_CLIENT_KEYS[1]: the name 'alice' is used twice"


def test_a_key_listed_twice_is_refused_without_showing_it(env):
    entries = [{"name": "alice", "key": "sesame-1"}, {"name": "bob", "key": "sesame-1"}]
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps(entries))
    line = error_line()
    assert line.startswith("CEREBRUM_CLIENT_KEYS[1] ('bob'): the same key as 'alice'")
    assert "sesame" not in line


def test_the_name_loopback_is_reserved_for_keyless_mode(env):
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps([{"name": "loopback", "key": "k"}]))
    assert "reserved" in error_line()


def test_an_unknown_field_in_a_client_key_entry_is_refused_naming_it(env):
    env.setenv("CEREBRUM_CLIENT_KEYS", json.dumps([{"name": "a", "key": "k", "rpm": 5}]))
    assert error_line().startswith("CEREBRUM_CLIENT_KEYS[0.rpm]")
