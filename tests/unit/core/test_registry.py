"""core/registry.py: the configured models, looked up by the alias a client sends."""

from __future__ import annotations

import pytest
from cerebrum.core.errors import UnknownModelError
from cerebrum.core.registry import ModelSpec, Registry
from cerebrum.retrieval import ModelProfile


def spec(alias: str, *backends: str) -> ModelSpec:
    return ModelSpec(alias, f"{alias}-gguf", backends or ("http://a:9000",), ModelProfile(2048))


def test_the_first_model_is_the_default_when_none_is_named():
    registry = Registry([spec("qwen"), spec("smol")])
    assert registry.resolve(None).alias == "qwen"


def test_a_named_default_is_used_for_requests_without_a_model():
    assert Registry([spec("qwen"), spec("smol")], default="smol").resolve(None).alias == "smol"


def test_a_default_that_is_not_configured_is_refused():
    with pytest.raises(ValueError, match="default model 'gone' is not configured"):
        Registry([spec("qwen")], default="gone")


def test_a_registry_without_models_is_refused():
    with pytest.raises(ValueError, match="at least one model"):
        Registry([])


def test_an_unknown_alias_names_the_known_ones():
    with pytest.raises(UnknownModelError, match="unknown model 'gpt'; known models: qwen, smol"):
        Registry([spec("qwen"), spec("smol")]).resolve("gpt")


def test_backends_are_listed_once_each_in_configuration_order():
    registry = Registry(
        [
            spec("qwen", "http://b:9000", "http://a:9000"),
            spec("smol", "http://a:9000", "http://c:9000"),
        ]
    )
    assert registry.backends == ["http://b:9000", "http://a:9000", "http://c:9000"]
