"""api/routes/schema.py: the OpenAPI document is valid and covers every endpoint."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

PATHS = {
    "/health", "/v1/vps/health", "/v1/complete", "/v1/complete/stream", "/v1/models",
    "/v1/stats", "/metrics", "/v1/completions", "/v1/chat/completions", "/openapi.json",
}  # fmt: skip


async def test_document_lists_every_endpoint(client):
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == PATHS


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
    from cerebrum.api.routes.schema import document

    validator.validate(document())
