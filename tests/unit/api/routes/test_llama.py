"""api/routes/llama.py against a fake llama-server: what reaches the backend from an
editor's body (only the options passed on), and how many completions a list prompt asks for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.anyio

EDITORS = Path(__file__).parents[3] / "fixtures" / "editors"
FIM = {"prefix": "<|fim_prefix|>", "suffix": "<|fim_suffix|>", "middle": "<|fim_middle|>",
       "file_separator": "<|file_sep|>", "repo_name": "<|repo_name|>"}  # fmt: skip
MODELS = [
    {"alias": "m1", "model": "m1", "context_size": 2048},
    {"alias": "coder", "model": "q1", "context_size": 2048, "format": "fim", "fim": FIM},
]


def editor_body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EDITORS / f"{name}.json").read_text())
    return loaded


async def test_only_the_options_passed_on_reach_the_backend(app_client, fake_llama):
    sent = editor_body("llama_vim_fim") | {
        "speculative.n_max": 64,
        "image_data": [{"data": "AAAA", "id": 1}],
        "n_discard": None,
        "something_new": 1,
    }
    async with app_client(models=MODELS) as client:
        response = await client.post("/infill", json=sent)
    assert response.status_code == 200, response.text
    received = fake_llama.bodies[0]
    for name in ("samplers", "top_k", "top_p", "n_indent", "t_max_predict_ms", "cache_prompt"):
        assert received[name] == sent[name], name
    for name in ("speculative.n_max", "image_data", "n_discard", "something_new",
                 "t_max_prompt_ms", "input_extra", "input_prefix", "response_fields"):  # fmt: skip
        assert name not in received, name
    # the slot is the orchestrator's choice for the document, not the client's id_slot
    assert received["id_slot"] in range(2)


async def test_the_clients_id_slot_is_not_the_slot_sent(app_client, fake_llama):
    async with app_client(models=MODELS, backend_slots=2) as client:
        first = editor_body("llama_vim_fim") | {"id_slot": 1, "input_prefix": "a = 1\n"}
        other = editor_body("llama_vim_fim") | {
            "id_slot": 1, "input_prefix": "zzz = 9\n" * 40, "input_suffix": "yyy()\n" * 8,
        }  # fmt: skip
        for body in (first, other):
            response = await client.post("/infill", json=body)
            assert response.status_code == 200, response.text
    slots = [body["id_slot"] for body in fake_llama.bodies]
    assert sorted(slots) == [0, 1]  # two documents, a slot each, whatever the client said


async def test_a_refused_option_never_reaches_the_backend(app_client, fake_llama):
    async with app_client(models=MODELS) as client:
        response = await client.post("/completion", json={"prompt": "x", "verbose": True})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "verbose"
    assert fake_llama.generations == 0


async def test_a_list_prompt_asks_n_cmpl_for_each_prompt_within_the_slots(app_client, fake_llama):
    async with app_client(models=MODELS, backend_slots=4) as client:
        await client.post("/completion", json={"prompt": ["a", "b"], "n_cmpl": 8, "n_predict": 2})
    assert fake_llama.bodies[0]["prompt"] == ["a", "b"]
    assert fake_llama.bodies[0]["n_cmpl"] == 2  # 2 prompts x 2 = the 4 slots


async def test_more_prompts_than_slots_get_422_naming_prompt(app_client, fake_llama):
    async with app_client(models=MODELS, backend_slots=2) as client:
        response = await client.post("/completion", json={"prompt": ["a", "b", "c"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "prompt"
    assert fake_llama.generations == 0
