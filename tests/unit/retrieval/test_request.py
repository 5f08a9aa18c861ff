"""retrieval/request.py: a model's prompt side (ModelProfile, FimTokens) is checked when made."""

from __future__ import annotations

import pytest
from cerebrum.retrieval import FimTokens, ModelProfile

TOKENS = FimTokens("<P>", "<S>", "<M>")


def test_a_fim_profile_without_fim_tokens_is_refused():
    with pytest.raises(ValueError, match="FIM tokens"):
        ModelProfile(2048, format="fim")


def test_a_fim_profile_with_its_tokens_is_accepted():
    assert ModelProfile(2048, format="fim", fim=TOKENS).fim == TOKENS


@pytest.mark.parametrize("size", [0, -1])
def test_a_context_size_that_is_not_positive_is_refused(size):
    with pytest.raises(ValueError, match="context_size must be positive"):
        ModelProfile(size)


def test_a_negative_margin_is_refused():
    with pytest.raises(ValueError, match="margin_tokens must not be negative"):
        ModelProfile(2048, margin_tokens=-1)


def test_an_unknown_format_is_refused_by_name():
    with pytest.raises(ValueError, match="got 'infill'"):
        ModelProfile(2048, format="infill")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["prefix", "suffix", "middle", "file_separator", "repo_name"])
def test_an_empty_fim_token_is_refused_by_name(name):
    tokens = {"prefix": "<P>", "suffix": "<S>", "middle": "<M>", name: ""}
    with pytest.raises(ValueError, match=f"FIM token '{name}'"):
        FimTokens(**tokens)


def test_an_unknown_fim_order_is_refused_by_name():
    with pytest.raises(ValueError, match="FIM order must be psm or spm, got 'sp'"):
        FimTokens("<P>", "<S>", "<M>", order="sp")  # type: ignore[arg-type]


def test_prefix_suffix_middle_is_the_default_order():
    assert TOKENS.around("def f(", "):") == "<P>def f(<S>):<M>"


def test_suffix_first_puts_the_prefix_last_before_the_middle():
    spm = FimTokens("<P>", "<S>", "<M>", order="spm")
    assert spm.around("def f(", "):") == "<S>):<P>def f(<M>"
