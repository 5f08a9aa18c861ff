"""api/llama_answers.py: llama-server's answers rebuilt from the backend's stream."""

import json
from pathlib import Path

import pytest
from cerebrum.api.llama_answers import Completions, answer, select_fields

FINAL = {
    "index": 0,
    "content": "",
    "tokens": [],
    "stop": True,
    "tokens_cached": 120,
    "truncated": False,
    "timings": {"cache_n": 100, "prompt_n": 20, "prompt_ms": 12.5},
}

# llama.vim's response_fields (autoload/llama.vim, the FIM request)
LLAMA_VIM_FIELDS = [
    "content",
    "timings/prompt_n",
    "timings/prompt_ms",
    "timings/prompt_per_token_ms",
    "truncated",
    "tokens_cached",
]


def test_response_fields_are_flattened_to_their_path_as_llama_server_does():
    selected = select_fields({**FINAL, "content": "x"}, LLAMA_VIM_FIELDS)
    assert selected == {
        "content": "x",
        "timings/prompt_n": 20,
        "timings/prompt_ms": 12.5,
        "truncated": False,
        "tokens_cached": 120,
    }
    assert "timings/prompt_per_token_ms" not in selected  # not in the result: left out


@pytest.mark.parametrize(
    ("fields", "expected"),
    [([""], {}), ([], FINAL), (["timings"], {"timings": FINAL["timings"]}), (["content/x"], {})],
)
def test_response_fields_edge_cases(fields, expected):
    assert select_fields(FINAL, fields) == expected


def test_one_completion_is_an_object_with_the_whole_text():
    gathered = Completions()
    for event in (
        {"index": 0, "content": "def ", "tokens": [1], "stop": False},
        {"index": 0, "content": "f():", "tokens": [2], "stop": False},
        {**FINAL, "tokens": []},
    ):
        gathered.add(event)
    body = answer(gathered.results(), ["content", "tokens_cached"])
    assert body == {"content": "def f():", "tokens_cached": 120}


def test_several_completions_are_an_array_ordered_by_index():
    gathered = Completions()
    for event in (
        {"index": 1, "content": "b", "stop": False},
        {"index": 0, "content": "a", "stop": False},
        {"index": 1, "content": "", "stop": True},
        {"index": 0, "content": "", "stop": True},
    ):
        gathered.add(event)
    body = answer(gathered.results(), [])
    assert [item["content"] for item in body] == ["a", "b"]
    assert [item["index"] for item in body] == [0, 1]


def test_the_llama_vim_fixture_is_the_shape_the_tests_replay():
    fixture = Path(__file__).parents[2] / "fixtures" / "editors" / "llama_vim_fim.json"
    body = json.loads(fixture.read_text())
    assert set(LLAMA_VIM_FIELDS) <= set(body["response_fields"])
