"""api/schemas.py's OPTIONS: the fields of llama.cpp's /infill and /completion bodies that
the orchestrator does not decide itself. The editors' bodies (tests/fixtures/editors, copied
field for field from llama.vim, llama.vscode and Continue) pass; only the rows passed on
reach the backend, each within its bounds; the rows refused get 422 naming the field; the
rest is dropped; and docs/api.md's table is the table in the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cerebrum.api import schemas
from cerebrum.api.errors import validation_response
from cerebrum.api.schemas import OPTIONS, InfillRequest, LlamaCompletionRequest
from pydantic import ValidationError

ROOT = Path(__file__).parents[3]
EDITORS = ROOT / "tests" / "fixtures" / "editors"
INFILL_BODIES = ("llama_vim_fim", "llama_vim_warmup", "llama_vscode_fim", "llama_vscode_warmup")
MODELS = {"/infill": InfillRequest, "/completion": LlamaCompletionRequest}
BASE = {"/infill": {"input_prefix": "def "}, "/completion": {"prompt": "def "}}


def editor_body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EDITORS / f"{name}.json").read_text())
    return loaded


def parse(route: str, body: dict[str, Any]) -> Any:
    return MODELS[route].model_validate_json(json.dumps(body))


def refusal(route: str, body: dict[str, Any]) -> tuple[str | None, str]:
    """The field and message of the 422 the orchestrator answers for ``body``."""
    with pytest.raises(ValidationError) as caught:
        parse(route, body)
    answer = json.loads(validation_response(caught.value).body)["error"]
    return answer.get("field"), answer["message"]


@pytest.mark.parametrize("name", INFILL_BODIES)
def test_llama_vim_and_llama_vscode_bodies_pass_and_their_sampling_reaches_the_backend(name):
    sent = editor_body(name)
    passed = parse("/infill", sent).passed_on()
    owned = set(schemas.Native.model_fields) | {"n", "input_prefix", "input_suffix"}
    owned |= {"input_extra", "prompt"}
    dropped = {name for o in OPTIONS if o.action == "dropped" for name in o.names}
    assert passed == {key: value for key, value in sent.items() if key not in owned | dropped}


def test_llama_vscode_with_a_lora_passes_it_on():
    # llama.vscode's createRequestPayload with its lora_completion setting filled in
    sent = editor_body("llama_vscode_fim") | {"lora": [{"id": 0, "scale": 0.5}]}
    assert parse("/infill", sent).passed_on()["lora"] == [{"id": 0, "scale": 0.5}]


def test_continues_body_passes_and_everything_in_it_is_the_orchestrators():
    sent = editor_body("continue_completion")
    assert parse("/completion", sent).passed_on() == {}
    # Continue's _convertArgs with every option set (JSON.stringify drops the unset ones)
    options = {"frequency_penalty": 0.5, "presence_penalty": 0.1, "min_p": 0.05,
               "mirostat": 2, "top_k": 40, "top_p": 0.95}  # fmt: skip
    assert parse("/completion", sent | options).passed_on() == options


@pytest.mark.parametrize("route", MODELS)
def test_fields_in_no_row_and_dropped_rows_never_reach_the_backend(route):
    sent = BASE[route] | {
        "speculative.n_max": 64,
        "image_data": [{"data": "AAAA", "id": 1}],
        "multimodal_data": ["AAAA"],
        "t_max_prompt_ms": 500,
        "something_new": {"x": 1},
        "id_slot": 3,  # the orchestrator chooses the slot
    }
    assert parse(route, sent).passed_on() == {}


@pytest.mark.parametrize(
    ("route", "name"),
    [(r, name) for o in OPTIONS if o.action == "refused" for r in o.routes for name in o.names],
)
def test_each_refused_field_gets_422_naming_it(route, name):
    field, message = refusal(route, BASE[route] | {name: True})
    assert field == name
    assert "does not offer it" in message


@pytest.mark.parametrize("route", MODELS)
def test_null_is_absent_as_llama_server_reads_it(route):
    sent = BASE[route] | {"verbose": None, "top_k": None, "lora": None}
    assert parse(route, sent).passed_on() == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n_probs": 150_000}, "n_probs"),  # issue 23: one request opened every circuit
        ({"logprobs": 21}, "logprobs"),  # named as the client spelled it
        ({"lora": [{"id": 0, "scale": 50}]}, "lora.0.scale"),
        ({"lora": [{"id": 64, "scale": 1}]}, "lora.0.id"),
        ({"lora": [{"id": i, "scale": 1} for i in range(9)]}, "lora"),
        ({"samplers": ["top_k", "rm -rf"]}, "samplers"),
        ({"samplers": ["top_k"] * 17}, "samplers"),
        ({"samplers": "kpz"}, "samplers"),
        ({"grammar": "root ::= " + "x" * 16_384}, "grammar"),
        ({"json_schema": {"description": "x" * 16_384}}, "json_schema"),
        ({"json_schema": "not an object"}, "json_schema"),
        ({"top_k": 1001}, "top_k"),
        ({"top_p": 1.5}, "top_p"),
        ({"min_p": -0.1}, "min_p"),
        ({"typical_p": 2}, "typical_p"),
        ({"repeat_penalty": 50}, "repeat_penalty"),
        ({"repeat_penalty": 0}, "repeat_penalty"),  # llama-server refuses it
        ({"repeat_last_n": 100_000}, "repeat_last_n"),
        ({"presence_penalty": -3}, "presence_penalty"),
        ({"seed": -2}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"seed": "42"}, "seed"),
        ({"ignore_eos": "yes"}, "ignore_eos"),
        ({"dry_sequence_breakers": []}, "dry_sequence_breakers"),
        ({"logit_bias": [[15043, 1000]]}, "logit_bias"),
        ({"logit_bias": {str(i): 1.0 for i in range(65)}}, "logit_bias"),
        ({"t_max_predict_ms": -5}, "t_max_predict_ms"),
        ({"n_indent": 10**9}, "n_indent"),
    ],
)
@pytest.mark.parametrize("route", MODELS)
def test_options_outside_their_bounds_get_422_naming_the_field(route, change, field):
    named, _ = refusal(route, BASE[route] | change)
    assert named is not None
    assert named == field or named.startswith(f"{field}.")  # a union names its branch


def test_options_within_their_bounds_go_to_the_backend_under_their_own_name():
    sent = {"prompt": "x", "seed": 42, "top_k": 0, "logprobs": 5, "ignore_eos": True,
            "samplers": "kpt", "grammar": 'root ::= "a"', "json_schema": {},
            "logit_bias": [[15043, False], ["Hello", -0.5]], "n_keep": -1,
            "dry_sequence_breakers": ["\n"], "lora": [{"id": 1, "scale": -1.5}]}  # fmt: skip
    expected = {key: value for key, value in sent.items() if key not in ("prompt", "logprobs")}
    assert parse("/completion", sent).passed_on() == expected | {"n_probs": 5}


def test_n_keep_is_the_orchestrators_on_infill_and_passed_on_completion():
    field, _ = refusal("/infill", {"input_prefix": "x", "n_keep": 4})
    assert field == "n_keep"
    assert parse("/completion", {"prompt": "x", "n_keep": 4}).passed_on() == {"n_keep": 4}


@pytest.mark.parametrize(
    ("prompt", "n_cmpl", "slots", "expected"),
    [
        ("one prompt", 3, 2, 2),  # llama.vscode's 3, lowered to the slots
        (["a", "b"], 1, 2, 1),
        (["a", "b"], 8, 4, 2),  # 2 prompts, 2 completions each: the 4 slots
        ([1, 2, "mixed", 3], 3, 2, 2),  # token ids and strings: one prompt
    ],
)
def test_n_cmpl_is_lowered_so_all_completions_fit_the_slots(prompt, n_cmpl, slots, expected):
    body = parse("/completion", {"prompt": prompt, "n_cmpl": n_cmpl})
    assert body.n_cmpl_within(slots) == expected


def test_a_list_of_more_prompts_than_slots_is_refused_naming_prompt():
    body = parse("/completion", {"prompt": ["a", "b", "c"], "n_cmpl": 1})
    with pytest.raises(ValidationError) as caught:
        body.n_cmpl_within(2)
    answer = validation_response(caught.value)
    assert answer.status_code == 422
    error = json.loads(answer.body)["error"]
    assert error["field"] == "prompt"
    assert "CEREBRUM_BACKEND_SLOTS" in error["message"]


def test_a_list_of_more_prompts_than_completions_ever_served_is_refused_at_parse():
    field, _ = refusal("/completion", {"prompt": ["x"] * (schemas.MAX_COMPLETIONS + 1)})
    assert field == "prompt"


def test_a_token_id_beyond_32_bits_is_refused_naming_it():
    """Found by the fuzz run: such an id could not be sent on (500)."""
    field, _ = refusal("/completion", {"prompt": [1, -1089873245341806909468966912]})
    assert field is not None
    assert field.startswith("prompt")


def test_a_long_token_id_prompt_is_still_one_prompt():
    assert parse("/completion", {"prompt": list(range(5000))}).prompt_count() == 1


def test_the_openapi_document_lists_each_option_with_its_bounds():
    properties = InfillRequest.model_json_schema()["properties"]
    assert properties["n_probs"]["anyOf"][0]["maximum"] == schemas.MAX_N_PROBS
    assert properties["verbose"]["type"] == "null"  # refused: only null (absent) passes
    assert "n_keep" in LlamaCompletionRequest.model_json_schema()["properties"]


def test_the_readme_table_is_the_table_in_the_code():
    readme = (ROOT / "docs" / "api.md").read_text()
    header = schemas.options_table().splitlines()[0]
    start = readme.index(header)
    table = re.match(r"(?:\|.*\n)+", readme[start:])
    assert table is not None
    assert table.group(0) == schemas.options_table()


def test_a_token_id_written_as_a_whole_float_is_a_token_id():
    body = LlamaCompletionRequest.model_validate_json('{"prompt": [7.0, "x", 100000001.0]}')
    assert body.prompt == [7, "x", 100000001]
