"""core/registry.py: the configured models, looked up by the alias a client sends."""

from __future__ import annotations

import pytest
from cerebrum.core.errors import UnknownModelError
from cerebrum.core.registry import ModelSpec, Registry
from cerebrum.retrieval import FimTokens, ModelProfile
from pydantic import ValidationError


def spec(alias: str, *backends: str) -> ModelSpec:
    return ModelSpec(
        alias=alias, model=f"{alias}-gguf", backends=backends or ("http://a:9000",),
        context_size=2048,
    )  # fmt: skip


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


def test_a_model_naming_no_backends_is_served_by_every_backend():
    bare = ModelSpec(alias="qwen", model="q")
    registry = Registry([bare, spec("smol", "http://c:9000")], everywhere=["http://x:1"])
    assert registry.resolve("qwen").backends == ("http://x:1",)
    assert registry.resolve("smol").backends == ("http://c:9000",)


def test_backend_urls_lose_their_trailing_slash_and_may_not_carry_credentials():
    assert spec("q", "http://a:9000/").backends == ("http://a:9000",)
    with pytest.raises(ValidationError, match="must not carry credentials"):
        spec("q", "http://user:pass@a:9000")


def test_the_profile_is_derived_once_and_its_rules_checked_as_the_spec_is_validated():
    fim = FimTokens("<P>", "<S>", "<M>")
    qwen = ModelSpec(alias="q", model="q", context_size=4096, format="fim", fim=fim)
    assert qwen.profile == ModelProfile(4096, "fim", fim)
    assert qwen.profile is qwen.profile
    with pytest.raises(ValidationError, match="model 'q': format 'fim' needs the model's FIM"):
        ModelSpec(alias="q", model="q", format="fim")


def test_the_fim_order_is_read_from_the_settings_and_a_wrong_one_is_named():
    tokens = {"prefix": "<P>", "suffix": "<S>", "middle": "<M>"}
    spm = ModelSpec.model_validate(
        {"alias": "c", "model": "c", "format": "fim", "fim": tokens | {"order": "spm"}}
    )
    assert spm.profile.fim is not None
    assert spm.profile.fim.order == "spm"
    with pytest.raises(ValidationError, match=r"fim\.order\n  Input should be 'psm' or 'spm'"):
        ModelSpec.model_validate(
            {"alias": "c", "model": "c", "format": "fim", "fim": tokens | {"order": "sm"}}
        )
