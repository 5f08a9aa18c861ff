"""The OpenAPI 3.1 document of a table of endpoints (``api/endpoints.py``).

Each endpoint's operation comes from its row of the table, the schemas from api/schemas.py,
the same models that validate requests and build the answers, so the document cannot drift
from the code.

A ``text/event-stream`` answer is documented one event at a time (before OpenAPI 3.2's
``itemSchema``, a stream's ``schema`` describes each event): an object whose ``data`` is
JSON (``contentMediaType``) matching one of the operation's event models
(``contentSchema``), or the literal ``[DONE]`` that ends an OpenAI-style stream.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Literal

from pydantic import TypeAdapter

from cerebrum import __version__
from cerebrum.api import schemas
from cerebrum.api.endpoints import Endpoint, Shape

SSE = "text/event-stream"

_ERROR_TEXT = {
    400: "Unknown model, invalid JSON, or a prompt too large for the model.",
    401: "Missing or invalid client key.",
    403: "No client keys configured and the client is not on loopback.",
    413: "Request body too large.",
    409: "Superseded by a newer request of the same document.",
    422: "Validation error naming the field.",
    501: "The model has no FIM tokens (llama-server's answer).",
    502: "The backend refused or broke off.",
    429: "The client key's own limit (requests_per_minute or concurrent; see Retry-After).",
    503: "OverloadedError, circuit open or no backend available (see Retry-After).",
    504: "No first token, or the stream went silent, within the timeout.",
}

Ref = Callable[[Shape], dict[str, Any]]


@cache
def document(endpoints: tuple[Endpoint, ...]) -> dict[str, Any]:
    """The document (built once per table, then shared: callers must not change it)."""
    shapes: list[Shape] = [schemas.ErrorResponse]
    for op in endpoints:
        shapes += [m for m in (op.request, op.response, *op.events) if m is not None]
        shapes += [answer.model for answer in op.answers]
    keyed: list[tuple[Shape, Literal["validation"], TypeAdapter[Any]]] = [
        (shape, "validation", TypeAdapter(shape)) for shape in dict.fromkeys(shapes)
    ]
    refs, definitions = TypeAdapter.json_schemas(keyed, ref_template="#/components/schemas/{model}")

    def ref(shape: Shape) -> dict[str, Any]:
        return refs[(shape, "validation")]

    paths: dict[str, dict[str, Any]] = {}
    for op in endpoints:
        method = op.method.lower()
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": method + op.path.replace("/", "_").replace(".", "_"),
            "responses": _responses(op, ref),
        }
        if op.public:
            operation["security"] = []
        if op.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.request)}},
            }
        paths.setdefault(op.path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cerebrum orchestrator",
            "version": __version__,
            "description": "Prompt pipeline, routing and protection in front of llama-server.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
    }


def _responses(op: Endpoint, ref: Ref) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if op.response is not None:
        content["application/json"] = {"schema": ref(op.response)}
    elif op.text_response:
        content[op.text_response] = {"schema": {"type": "string"}}
    elif not op.events:
        content["application/json"] = {"schema": {"type": "object"}}
    if op.events:
        content[SSE] = {"schema": _event_schema(op, ref)}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
    error = {"application/json": {"schema": ref(schemas.ErrorResponse)}}
    for status in op.errors:
        entry: dict[str, Any] = {"description": _ERROR_TEXT[status], "content": error}
        if status in (429, 503):
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[str(status)] = entry
    for answer in op.answers:
        responses[str(answer.status)] = {
            "description": answer.description,
            "content": {"application/json": {"schema": ref(answer.model)}},
        }
    return responses


def _event_schema(op: Endpoint, ref: Ref) -> dict[str, Any]:
    """One server-sent event as parsed from the stream: its ``data`` is one of ``op.events``."""
    data: dict[str, Any] = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"anyOf": [ref(model) for model in op.events]},
    }
    if op.done_marker:
        data = {"anyOf": [{"const": "[DONE]"}, data]}
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": data, "event": {"const": "message"}},
    }
