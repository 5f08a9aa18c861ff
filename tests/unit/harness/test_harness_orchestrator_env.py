"""The orchestrator's environment, built in one place for tests, benchmarks and `make run`."""

from __future__ import annotations

import json

import pytest

from harness.assets import MODELS
from harness.orchestrator import (
    CLIENT_KEY,
    LAB_ALIASES,
    LAB_FIM_ALIASES,
    lab_models,
    orchestrator_env,
)


def test_the_callers_cerebrum_settings_never_leak_in(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CEREBRUM_RETRIES", "9")
    monkeypatch.setenv("UNRELATED", "kept")
    env = orchestrator_env("http://127.0.0.1:1", "backend-key", 7001, lab_models(2048))
    assert "CEREBRUM_RETRIES" not in env
    assert env["UNRELATED"] == "kept"
    assert (env["CEREBRUM_BACKENDS"], env["CEREBRUM_API_KEY"], env["CEREBRUM_PORT"]) == (
        "http://127.0.0.1:1",
        "backend-key",
        "7001",
    )
    assert env["CEREBRUM_CLIENT_KEYS"] == CLIENT_KEY


def test_settings_become_cerebrum_variables_and_win():
    env = orchestrator_env("u", "k", 1, [], client_keys=None, log_level="debug", max_queue=3)
    assert (env["CEREBRUM_LOG_LEVEL"], env["CEREBRUM_MAX_QUEUE"]) == ("debug", "3")
    assert "CEREBRUM_CLIENT_KEYS" not in env


def test_lab_models_name_every_fetched_model_with_its_prompt_format():
    entries = lab_models(1024)
    assert {entry["model"] for entry in entries} == {model.id for model in MODELS}
    assert [entry["alias"] for entry in entries] == [*LAB_ALIASES, *LAB_FIM_ALIASES]
    formats = {entry["alias"]: entry["format"] for entry in entries}
    assert formats == {"gemma": "completion", "smol": "chat", "smol-fim": "fim"}
    fim = entries[-1]["fim"]
    assert isinstance(fim, dict)
    spelled = {"prefix", "suffix", "middle", "file_separator", "repo_name"}
    assert set(fim) == spelled | {"order", "max_suffix_tokens"}
    assert (fim["order"], fim["max_suffix_tokens"]) == ("psm", None)
    assert json.loads(json.dumps(entries)) == entries  # what CEREBRUM_MODELS carries
    suffix_first = lab_models(1024, fim_order="spm")[-1]["fim"]
    assert isinstance(suffix_first, dict)
    assert suffix_first == fim | {"order": "spm"}
    capped = lab_models(1024, max_suffix_tokens=48)[-1]["fim"]
    assert isinstance(capped, dict)
    assert capped == fim | {"max_suffix_tokens": 48}


def test_settings_can_replace_the_backend_and_its_key():
    env = orchestrator_env("http://a", "right", 1, [], backends="http://b,http://a", api_key="x")
    assert (env["CEREBRUM_BACKENDS"], env["CEREBRUM_API_KEY"]) == ("http://b,http://a", "x")


def test_the_integration_tests_settings_can_replace_the_backend(tmp_path):
    from harness.llama_server import LlamaServer
    from tests.integration.orchestrator.support import orchestrator_env as test_env

    llama = LlamaServer(workdir=tmp_path, port=9, binary=tmp_path, models_dir=tmp_path,
                        api_key="right", models=["gemma3-270m"])  # fmt: skip
    env = test_env(llama, 7000, backends="http://other:1", api_key="wrong")
    assert (env["CEREBRUM_BACKENDS"], env["CEREBRUM_API_KEY"]) == ("http://other:1", "wrong")
    assert env["CEREBRUM_DEFAULT_MODEL"] == "gemma"
