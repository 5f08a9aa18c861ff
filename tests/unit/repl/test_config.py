"""Where the REPL finds the orchestrator and its key: flags, environment, the CM4's .env."""

from __future__ import annotations

import pytest
from cerebrum.repl.config import ConfigError, first_key, resolve, url_from_settings

ENV_FILE_TEXT = """\
# the orchestrator's settings, as the CM4 role writes them
CEREBRUM_HOST=0.0.0.0
CEREBRUM_PORT=7100
CEREBRUM_CLIENT_KEYS='["from-dotenv", "second"]'
CEREBRUM_API_KEY=backend-key-not-for-clients
"""


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text(ENV_FILE_TEXT)
    return path


def test_without_anything_the_default_url_and_no_key_are_used():
    config = resolve(environ={})
    assert (config.url, config.url_source, config.key) == ("http://127.0.0.1:7000", "default", None)


def test_env_file_gives_the_url_with_a_wildcard_bind_reached_on_loopback_and_the_first_key(
    env_file,
):
    config = resolve(environ={}, env_file=env_file)
    assert config.url == "http://127.0.0.1:7100"
    assert config.key == "from-dotenv"
    assert config.url_source == config.key_source == str(env_file)


def test_environment_beats_the_env_file(env_file):
    environ = {"CEREBRUM_URL": "http://cm4.example:7000/", "CEREBRUM_CLIENT_KEY": "from-env"}
    config = resolve(environ=environ, env_file=env_file)
    assert (config.url, config.key) == ("http://cm4.example:7000", "from-env")
    assert (config.url_source, config.key_source) == ("CEREBRUM_URL", "CEREBRUM_CLIENT_KEY")


def test_flags_beat_the_environment_and_the_env_file(env_file):
    environ = {"CEREBRUM_URL": "http://env:1", "CEREBRUM_CLIENT_KEY": "from-env"}
    config = resolve(url="flag-host:8000", key="from-flag", environ=environ, env_file=env_file)
    assert (config.url, config.key) == ("http://flag-host:8000", "from-flag")
    assert (config.url_source, config.key_source) == ("--url", "--key")


def test_each_value_comes_from_the_first_place_that_has_it(env_file):
    config = resolve(key="from-flag", environ={}, env_file=env_file)
    assert (config.url, config.url_source) == ("http://127.0.0.1:7100", str(env_file))
    assert (config.key, config.key_source) == ("from-flag", "--key")


def test_blank_values_count_as_unset(env_file):
    config = resolve(url=" ", environ={"CEREBRUM_CLIENT_KEY": ""}, env_file=env_file)
    assert (config.url, config.key) == ("http://127.0.0.1:7100", "from-dotenv")


def test_env_file_is_not_read_when_flags_and_environment_give_both(tmp_path):
    unreadable = tmp_path / "missing.env"
    config = resolve(url="http://h:1", environ={"CEREBRUM_CLIENT_KEY": "k"}, env_file=unreadable)
    assert (config.url, config.key) == ("http://h:1", "k")


def test_missing_env_file_is_an_error_naming_it_and_the_alternatives(tmp_path):
    missing = tmp_path / "missing.env"
    with pytest.raises(ConfigError) as caught:
        resolve(environ={}, env_file=missing)
    message = str(caught.value)
    assert str(missing) in message, message
    assert "CEREBRUM_CLIENT_KEY" in message, message


def test_env_file_names_are_matched_case_insensitively_as_the_orchestrator_does(tmp_path):
    path = tmp_path / ".env"
    path.write_text("cerebrum_port=7300\ncerebrum_client_keys=a,b\n")
    config = resolve(environ={}, env_file=path)
    assert (config.url, config.key) == ("http://127.0.0.1:7300", "a")


def test_env_file_without_client_keys_gives_no_key(tmp_path):
    path = tmp_path / ".env"
    path.write_text("CEREBRUM_PORT=7000\n")
    assert resolve(environ={}, env_file=path).key is None


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:7000"),
        ("::", "http://127.0.0.1:7000"),
        ("127.0.0.1", "http://127.0.0.1:7000"),
        ("192.168.1.20", "http://192.168.1.20:7000"),
        ("::1", "http://[::1]:7000"),
        ("cm4.lan", "http://cm4.lan:7000"),
    ],
)
def test_bind_address_becomes_the_address_to_connect_to(host, url):
    assert url_from_settings({"CEREBRUM_HOST": host}) == url


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('["k1", "k2"]', "k1"),
        ("k1,k2", "k1"),
        (" , k2 ", "k2"),
        ('[""," k3 "]', "k3"),
        ("", None),
        ("[]", None),
    ],
)
def test_first_key_reads_json_lists_and_comma_separated_values(value, key):
    assert first_key(value) == key


def test_client_keys_that_are_broken_json_are_an_error():
    with pytest.raises(ConfigError, match="CEREBRUM_CLIENT_KEYS"):
        first_key('["unterminated')


@pytest.mark.parametrize("url", ["ftp://host", "http://"])
def test_a_url_that_is_not_http_is_refused(url):
    with pytest.raises(ConfigError, match="not an http"):
        resolve(url=url, environ={})


def test_the_description_names_the_key_source_but_never_the_key(env_file):
    config = resolve(environ={}, env_file=env_file)
    assert "from-dotenv" not in config.describe()
    assert "from-dotenv" not in repr(config)
    assert str(env_file) in config.describe()


def test_first_key_of_named_entries_is_the_first_entry_s_key():
    value = '[{"name": "alice", "key": "k-alice"}, "k-bare"]'
    assert first_key(value) == "k-alice"
