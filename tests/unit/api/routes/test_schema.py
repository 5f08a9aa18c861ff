"""api/routes/schema.py: the OpenAPI document is valid, covers every endpoint, and holds:
the app accepts what it documents as valid and sends the stream events it documents."""

from __future__ import annotations

import json

import pytest
from cerebrum.sse_reader import EventParser

pytestmark = pytest.mark.anyio


async def test_document_lists_every_endpoint(client):
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    app = client._transport.app  # the ASGI app behind the test client
    served = {(method.lower(), route.path) for route in app.routes for method in route.methods}
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert documented == served - {("head", path) for _, path in served}


async def test_every_reference_resolves(client):
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(node=value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


async def test_component_schemas_are_valid_json_schema(client):
    jsonschema = pytest.importorskip("jsonschema")
    document = (await client.get("/openapi.json")).json()
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


async def test_request_bounds_are_documented(client):
    document = (await client.get("/openapi.json")).json()
    complete = document["components"]["schemas"]["CompleteRequest"]
    assert complete["additionalProperties"] is False
    assert complete["properties"]["max_tokens"]["maximum"] == 4096
    assert complete["required"] == ["prompt"]


async def test_health_is_documented_as_needing_no_key(client):
    document = (await client.get("/openapi.json")).json()
    assert document["paths"]["/health"]["get"]["security"] == []


def test_document_is_a_valid_openapi_3_1_document():
    validator = pytest.importorskip("openapi_spec_validator")
    from cerebrum.api.routes import ENDPOINTS
    from cerebrum.api.routes.schema import document

    validator.validate(document(ENDPOINTS))


# ------------------------------------------------------------------ what the document promises


def _validator(document, schema):
    """A JSON Schema validator for ``schema``, its #/components/... references resolved."""
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator({"components": document["components"], **schema})


def _sse_events(text: str) -> list[dict[str, str]]:
    """The stream as an event-stream client sees it: {"data", "event"} per event."""
    return [
        {"data": data.decode(), "event": "message"} for data in EventParser().feed(text.encode())
    ]


STREAMS = [
    ("/v1/complete/stream", {"prompt": "x", "max_tokens": 3}, "ok"),
    ("/v1/complete/stream", {"prompt": "x", "max_tokens": 5}, "break"),
    ("/v1/completions", {"prompt": "x", "max_tokens": 3, "stream": True}, "ok"),
    ("/v1/completions", {"prompt": "x", "max_tokens": 5, "stream": True}, "break"),
    (
        "/v1/chat/completions",
        {
            "model": "chat",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        "ok",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "behaviour"), STREAMS, ids=[f"{path} {plan}" for path, _, plan in STREAMS]
)
async def test_every_stream_event_matches_the_documented_event_schema(
    client, fake_llama, path, body, behaviour
):
    fake_llama.plan = [behaviour]
    document = (await client.get("/openapi.json")).json()
    response = await client.post(path, json=body)
    media = document["paths"][path]["post"]["responses"]["200"]["content"]["text/event-stream"]
    event_schema = _validator(document, media["schema"])
    data_schema = media["schema"]["properties"]["data"]
    alternatives = data_schema.get("anyOf", [data_schema])
    described = next(schema for schema in alternatives if "contentSchema" in schema)
    content_schema = _validator(document, described["contentSchema"])
    events = _sse_events(response.text)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert len(events) >= 2, response.text
    for event in events:
        assert event_schema.is_valid(event), event
        if event["data"] != "[DONE]":
            assert content_schema.is_valid(json.loads(event["data"])), event["data"]
    assert (events[-1]["data"] == "[DONE]") == (path != "/v1/complete/stream")


async def test_an_undocumented_event_would_not_match(client):
    document = (await client.get("/openapi.json")).json()
    media = document["paths"]["/v1/completions"]["post"]["responses"]["200"]["content"]
    data_schema = media["text/event-stream"]["schema"]["properties"]["data"]["anyOf"][1]
    content_schema = _validator(document, data_schema["contentSchema"])
    assert content_schema.is_valid({"error": {"type": "backend_error", "message": "m"}})
    assert not content_schema.is_valid({"token": "x", "total_tokens": 1})  # the native event


CHAT = [{"role": "user", "content": "hi"}]

# (path, body, accepted): integers are JSON numbers without a fraction (256.0 is 256, as in
# JSON Schema), never strings or booleans.
NUMBERS: list[tuple[str, dict[str, object], bool]] = [
    ("/v1/complete", {"prompt": "x", "max_tokens": 4.0}, True),
    ("/v1/complete", {"prompt": "x", "max_tokens": 4.5}, False),
    ("/v1/complete", {"prompt": "x", "max_tokens": "4"}, False),
    ("/v1/complete", {"prompt": "x", "max_tokens": True}, False),
    ("/v1/complete", {"prompt": "x", "max_tokens": 4097.0}, False),
    ("/v1/completions", {"prompt": "x", "max_tokens": 4.0, "seed": 7.0}, True),
    ("/v1/completions", {"prompt": "x", "seed": -1}, False),
    ("/v1/completions", {"prompt": "x", "max_tokens": 4, "n": 1.0}, True),
    ("/v1/completions", {"prompt": "x", "n": True}, False),
    ("/v1/completions", {"prompt": "x", "n": 2}, False),
    ("/v1/chat/completions", {"messages": CHAT, "max_completion_tokens": 4.0}, True),
    ("/v1/chat/completions", {"messages": CHAT, "max_tokens": False}, False),
    # llama.cpp's routes read a field under its other names too, and document them
    ("/completion", {"prompt": "x", "n": 1, "max_tokens": 4}, True),
    ("/completion", {"prompt": "x", "n": [], "n_predict": 4}, False),
    ("/completion", {"prompt": "x", "logprobs": 2.5, "n_predict": 4}, False),
    ("/infill", {"prompt": "x", "max_completion_tokens": "4"}, False),
    ("/completion", {"prompt": "x", "n": 1, "n_cmpl": 1}, False),  # one field, named twice
    ("/infill", {"prompt": "x", "max_tokens": 4, "n_predict": 4}, False),
]


def _number_id(case: tuple[str, dict[str, object], bool]) -> str:
    path, body, _ = case
    fields = {name: value for name, value in body.items() if name not in ("prompt", "messages")}
    return f"{path} {json.dumps(fields)}"


@pytest.mark.parametrize(
    ("path", "body", "accepted"), NUMBERS, ids=[_number_id(case) for case in NUMBERS]
)
async def test_app_and_document_agree_on_numbers(client, fake_llama, path, body, accepted):
    document = (await client.get("/openapi.json")).json()
    request_schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    response = await client.post(path, json=body)

    assert _validator(document, request_schema["schema"]).is_valid(body) is accepted
    if accepted:
        assert response.status_code == 200, response.text
        sent = fake_llama.bodies[0]
        assert sent.get("n_predict", sent.get("max_tokens")) == 4
        assert type(sent.get("n_predict", sent.get("max_tokens"))) is int
        assert type(sent.get("seed", 0)) is int
    else:
        assert response.status_code == 422, response.text
        field = next(name for name in body if name not in ("prompt", "messages"))
        assert response.json()["error"]["field"] == field
