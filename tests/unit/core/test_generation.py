"""core/generation.py: what is asked of a backend."""

from __future__ import annotations

import pytest
from cerebrum.core.generation import Generation, prompt_count


def test_a_generation_has_a_prompt_or_messages_never_both():
    with pytest.raises(ValueError, match="either a prompt or messages"):
        Generation("m", 8)
    with pytest.raises(ValueError, match="either a prompt or messages"):
        Generation("m", 8, prompt="x", messages=(("user", "x"),))


def test_several_completions_need_a_prompt():
    with pytest.raises(ValueError, match="n_cmpl"):
        Generation("m", 8, messages=(("user", "x"),), completions=2)


@pytest.mark.parametrize(
    ("prompt", "count"),
    [("def f", 1), (["a", "b", "c"], 3), ([1, 2, 3], 1), ([1, "mixed", 2], 1)],
)
def test_a_list_of_strings_alone_is_that_many_prompts(prompt, count):
    assert prompt_count(prompt) == count


def test_results_count_every_completion_of_every_prompt():
    assert Generation("m", 8, prompt=["a", "b"], completions=2).results == 4
    assert Generation("m", 8, messages=(("user", "x"),)).results == 1
