"""api/schemas.py against the wire: every answer and stream event the app sends validates
against the shape its endpoint declares (api/routes ENDPOINTS), and carries no field that
shape leaves out, so the models, the OpenAPI document and the code cannot drift apart."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.seed_examples import sse_data

pytestmark = pytest.mark.anyio

jsonschema = pytest.importorskip("jsonschema")

CHAT = [{"role": "user", "content": "hi"}]
# llama-server's own answers and events, passed on as they are: only the fields the
# orchestrator relies on are documented, the others are the backend's.
PASSED_ON = {"LlamaAnswer", "LlamaEvent"}
FIM = {"prefix": "<|fim_prefix|>", "suffix": "<|fim_suffix|>", "middle": "<|fim_middle|>"}
MODELS = [
    {"alias": "m1", "model": "m1", "context_size": 2048},
    {"alias": "chat", "model": "c1", "context_size": 2048, "format": "chat"},
    {"alias": "coder", "model": "q1", "context_size": 2048, "format": "fim", "fim": FIM},
]

# (method, path, body, the fake llama-server's plan): each endpoint, answered and failing.
CASES: list[tuple[str, str, Any, list[str]]] = [
    ("GET", "/health", None, []),
    ("GET", "/v1/vps/health", None, []),
    ("GET", "/v1/vps/health", None, ["down"]),
    ("GET", "/v1/models", None, []),
    ("GET", "/v1/stats", None, []),
    ("GET", "/v1/usage", None, []),
    ("GET", "/dashboard", None, []),
    ("GET", "/metrics", None, []),
    ("GET", "/openapi.json", None, []),
    ("POST", "/v1/complete", {"prompt": "x", "max_tokens": 3}, []),
    ("POST", "/v1/complete", {"prompt": "x", "max_tokens": 3}, ["503"]),
    ("POST", "/v1/complete", {"prompt": "x", "max_tokens": "3"}, []),
    ("POST", "/v1/complete/stream", {"prompt": "x", "max_tokens": 3}, []),
    ("POST", "/v1/complete/stream", {"prompt": "x", "max_tokens": 5}, ["break"]),
    ("POST", "/v1/completions", {"prompt": "x", "max_tokens": 3}, []),
    (
        "POST",
        "/v1/completions",
        {"prompt": "x", "stream": True, "stream_options": {"include_usage": True}},
        [],
    ),
    ("POST", "/v1/completions", {"prompt": "x", "max_tokens": 5, "stream": True}, ["break"]),
    ("POST", "/v1/chat/completions", {"model": "chat", "messages": CHAT, "max_tokens": 2}, []),
    (
        "POST",
        "/v1/chat/completions",
        {
            "model": "chat",
            "messages": CHAT,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        [],
    ),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "chat", "messages": CHAT, "stream": True},
        ["break"],
    ),
    ("POST", "/infill", {"input_prefix": "def ", "n_predict": 3}, []),
    ("POST", "/infill", {"input_prefix": "def ", "model": "m1"}, []),
    ("POST", "/infill", {"input_prefix": "def ", "n_predict": 3}, ["break"]),
    ("POST", "/infill", {"input_prefix": "def ", "n_predict": 3, "stream": True}, []),
    ("POST", "/completion", {"prompt": "x", "n_predict": 3}, []),
    ("POST", "/completion", {"prompt": "x", "n_predict": 3}, ["400"]),
    ("POST", "/completion", {"prompt": "x", "n_predict": 3, "stream": True}, ["break"]),
]


def _closed(components: dict[str, Any]) -> dict[str, Any]:
    """The document's schemas with every object we build closed to fields it does not list."""
    closed = copy.deepcopy(components)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and node.get("title") not in PASSED_ON:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(closed["schemas"])
    return closed


def _shape_of(path: str, method: str):
    from cerebrum.api.routes import ENDPOINTS

    return next(e for e in ENDPOINTS if e.path == path and e.method == method)


def test_every_endpoint_is_exercised_here():
    from cerebrum.api.routes import ENDPOINTS

    assert {(e.method, e.path) for e in ENDPOINTS} == {(m, p) for m, p, _, _ in CASES}


@pytest.mark.parametrize(
    ("method", "path", "body", "plan"),
    CASES,
    ids=[f"{m} {p} {json.dumps(b)} {plan}" for m, p, b, plan in CASES],
)
async def test_what_is_sent_is_what_the_shapes_declare(
    app_client, fake_llama, method, path, body, plan
):

    async with app_client(models=MODELS) as client:
        await _check(client, fake_llama, method, path, body, plan)


async def _check(client, fake_llama, method, path, body, plan):
    from cerebrum.api import schemas
    from pydantic import TypeAdapter

    document = (await client.get("/openapi.json")).json()
    components = _closed(document["components"])
    if plan == ["down"]:
        fake_llama.health_status = 503
    else:
        fake_llama.plan = list(plan)
    response = await client.request(method, path, json=body)
    endpoint = _shape_of(path, method)
    status = str(response.status_code)
    documented = document["paths"][path][method.lower()]["responses"]
    assert status in documented, response.text
    content_type = response.headers["content-type"].split(";")[0]
    media = documented[status]["content"][content_type]

    if content_type == "text/event-stream":
        events = [data for data in sse_data(response.content) if data != "[DONE]"]
        assert events, response.text
        contained = media["schema"]["properties"]["data"]
        described = next(s for s in contained.get("anyOf", [contained]) if "contentSchema" in s)
        validator = jsonschema.Draft202012Validator(
            {"components": components, **described["contentSchema"]}
        )
        adapters = [TypeAdapter(shape) for shape in endpoint.events]
        for event in events:
            assert validator.is_valid(event), (event, list(validator.iter_errors(event))[:1])
            assert any(_validates(adapter, event) for adapter in adapters), event
    elif content_type == "application/json":
        answer = response.json()
        validator = jsonschema.Draft202012Validator({"components": components, **media["schema"]})
        assert validator.is_valid(answer), list(validator.iter_errors(answer))[:1]
        answers = {str(other.status): other.model for other in endpoint.answers}
        expected = endpoint.response if response.is_success else schemas.ErrorResponse
        if status in answers:
            expected = answers[status]
        if expected is not None:
            TypeAdapter(expected).validate_python(answer)
    else:
        assert content_type == endpoint.text_response


def _validates(adapter, event) -> bool:
    from pydantic import ValidationError

    try:
        adapter.validate_python(event)
    except ValidationError:
        return False
    return True


def test_a_field_the_shape_leaves_out_would_be_caught():
    """The check above is not vacuous: an extra field in a token event fails it."""
    from cerebrum.api.routes import ENDPOINTS
    from cerebrum.api.routes.schema import document

    components = _closed(document(ENDPOINTS)["components"])
    validator = jsonschema.Draft202012Validator(
        {"components": components, "$ref": "#/components/schemas/TokenEvent"}
    )
    assert validator.is_valid({"token": "a", "total_tokens": 1})
    assert not validator.is_valid({"token": "a", "total_tokens": 1, "tokens": 1})
