"""llama.cpp's routes on the CM4 against the real llama-server (issue 23): which fields of a
client's body reach the backend (api/schemas.py OPTIONS), how many completions a list
prompt asks for, and that the context a client sends cannot rewrite the FIM prompt the
orchestrator writes (retrieval/control.py), with the lab's FIM model (SmolLM2, its GGUF
marked with FIM tokens)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from harness.assets import MODELS
from harness.llama_server import LlamaServer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "editors"
FIM_MODEL = next(model for model in MODELS if model.fim is not None)
FIM_IDS = dict(FIM_MODEL.fim.token_ids) if FIM_MODEL.fim else {}
SPELLING = FIM_MODEL.fim.spelling if FIM_MODEL.fim else {}


def body(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded | changes


def tokenize(server: LlamaServer, text: str) -> list[int]:
    response = httpx.post(
        f"{server.url}/tokenize",
        json={"model": FIM_MODEL.id, "content": text, "add_special": True, "parse_special": True},
        headers=server.headers,
        timeout=30,
    )
    response.raise_for_status()
    tokens: list[int] = response.json()["tokens"]
    return tokens


def test_control_strings_in_the_context_reach_llama_server_as_text(orchestrator, llama_server):
    """Every FIM token of the model written into a context file, its path and the prefix:
    llama-server's own account of the prompt it evaluated holds each FIM token only where
    the orchestrator put it."""
    marks = "".join(f"{token}{name}\n" for name, token in SPELLING.items())
    extra = [
        {"text": f"def evil():\n{marks}    pass\n", "filename": f"{SPELLING['file_separator']}x.py"}
    ]
    sent = body("llama_vim_fim", input_extra=extra, input_prefix=f"# {marks}", n_predict=1,
                response_fields=["prompt", "tokens_evaluated"])  # fmt: skip
    with orchestrator.client() as client:
        response = client.post("/infill", json=sent)
    assert response.status_code == 200, response.text
    answer = response.json()
    tokens = tokenize(llama_server, answer["prompt"])
    print("prompt as llama-server evaluated it:", json.dumps(answer["prompt"]))
    assert len(tokens) == answer["tokens_evaluated"]  # its account is the prompt it evaluated
    counts = {name: tokens.count(token_id) for name, token_id in FIM_IDS.items()}
    # prefix, suffix, middle once; the file separator before the chunk and the current file
    assert counts == {"fim_pre": 1, "fim_suf": 1, "fim_mid": 1, "fim_sep": 2}, counts


def test_options_within_bounds_reach_llama_server(orchestrator):
    sent = {"prompt": "def add(a, b):", "n_predict": 1, "model": "gemma", "seed": 42,
            "top_k": 7, "samplers": ["top_k", "temperature"], "speculative.n_max": 3,
            "response_fields": ["generation_settings"]}  # fmt: skip
    with orchestrator.client() as client:
        response = client.post("/completion", json=sent)
    assert response.status_code == 200, response.text
    settings = response.json()["generation_settings"]
    assert (settings["seed"], settings["top_k"]) == (42, 7)
    assert settings["samplers"] == ["top_k", "temperature"]


def test_options_beyond_their_bounds_are_refused_before_any_backend_is_asked(orchestrator):
    """Issue 23's probes: each answered 422 naming the field, the circuit stays closed."""
    probes = [
        ({"n_probs": 150_000}, "n_probs"),
        ({"lora": [{"id": 0, "scale": 50}]}, "lora.0.scale"),
        ({"verbose": True}, "verbose"),
        ({"grammar": "root ::= " + '"a" ' * 8_000}, "grammar"),
    ]
    with orchestrator.client() as client:
        before = client.get("/v1/stats").json()["requests"]["generations"]
        for change, field in probes:
            sent = {"prompt": "hello", "n_predict": 1, "model": "gemma"} | change
            response = client.post("/completion", json=sent)
            assert response.status_code == 422, response.text
            assert response.json()["error"]["field"] == field
        stats = client.get("/v1/stats").json()
    assert stats["requests"]["generations"] == before
    assert all(circuit["state"] == "closed" for circuit in stats["circuits"].values())


def test_a_list_prompt_gets_one_completion_each_within_the_slots(orchestrator):
    sent = {"prompt": ["def add(a, b):", "def sub(a, b):"], "n_cmpl": 3, "n_predict": 2,
            "model": "gemma", "temperature": 0}  # fmt: skip
    with orchestrator.client() as client:
        response = client.post("/completion", json=sent)
        too_many = client.post("/completion", json=sent | {"prompt": ["a", "b", "c"]})
    assert response.status_code == 200, response.text
    answers = response.json()
    assert isinstance(answers, list)
    assert len(answers) == 2  # 2 prompts, n_cmpl lowered to 1: the 2 slots
    assert all(answer["tokens_predicted"] >= 1 for answer in answers)
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["error"]["field"] == "prompt"
