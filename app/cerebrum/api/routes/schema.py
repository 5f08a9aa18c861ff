"""GET /openapi.json: an OpenAPI 3.1 document built from the request/response models.

The operation table below is the list of endpoints; the schemas come from api/schemas.py,
the same models that validate requests, so the document cannot drift from the code.

A ``text/event-stream`` answer is documented one event at a time (before OpenAPI 3.2's
``itemSchema``, a stream's ``schema`` describes each event): an object whose ``data`` is
JSON (``contentMediaType``) matching one of the operation's event models
(``contentSchema``), or the literal ``[DONE]`` that ends an OpenAI-style stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerebrum import __version__
from cerebrum.api import schemas
from cerebrum.api.responses import JSONResponse

SSE = "text/event-stream"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    response: type[BaseModel] | None  # (a RootModel for an array)
    request: type[BaseModel] | None = None
    # text/event-stream (always, or when "stream": true): what an event's data can be
    events: tuple[type[BaseModel], ...] = ()
    done_marker: bool = False  # the stream ends with data: [DONE]
    json_too: bool = True
    errors: tuple[int, ...] = ()
    public: bool = False
    response_status: int = 200
    text_response: bool = False


_INFERENCE_ERRORS = (400, 401, 403, 413, 422, 503)
_BACKEND_ERRORS = (502, 504)

OPERATIONS = (
    Operation("get", "/health", "Liveness, version and uptime (no backend call).",
              schemas.HealthResponse, public=True),
    Operation("get", "/v1/vps/health", "Backend reachability, latency, loading and circuit state.",
              schemas.VpsHealthResponse, errors=(401, 403, 503)),
    Operation("post", "/v1/complete", "Generate a completion.", schemas.CompleteResponse,
              schemas.CompleteRequest, errors=_INFERENCE_ERRORS + _BACKEND_ERRORS),
    Operation("post", "/v1/complete/stream",
              "Stream a completion as SSE: data: {token, total_tokens} per piece, then "
              "data: {done: true, total_tokens, inference_time} (with error on failure).",
              None, schemas.CompleteRequest, events=(schemas.TokenEvent, schemas.DoneEvent),
              json_too=False, errors=_INFERENCE_ERRORS),
    Operation("get", "/v1/models", "Configured models and what the backends report.",
              schemas.ModelList, errors=(401, 403)),
    Operation("get", "/v1/stats", "Requests, latency percentiles, tokens/s, circuits, RSS.",
              schemas.StatsResponse, errors=(401, 403)),
    Operation("get", "/metrics", "The same figures for Prometheus.", None, errors=(401, 403),
              text_response=True),
    Operation("post", "/v1/completions", "OpenAI-compatible text completion.",
              schemas.OpenAICompletion, schemas.OpenAICompletionRequest,
              events=(schemas.OpenAICompletion, schemas.ErrorResponse), done_marker=True,
              errors=_INFERENCE_ERRORS + _BACKEND_ERRORS),
    Operation("post", "/v1/chat/completions", "OpenAI-compatible chat completion.",
              schemas.OpenAIChatCompletion, schemas.OpenAIChatRequest,
              events=(schemas.OpenAIChatCompletionChunk, schemas.ErrorResponse), done_marker=True,
              errors=_INFERENCE_ERRORS + _BACKEND_ERRORS),
    Operation("post", "/infill", "llama.cpp's /infill (llama.vim, llama.vscode): fill in at "
              "the cursor with the context of input_extra; answered as llama-server does.",
              schemas.LlamaAnswers, schemas.InfillRequest, events=(schemas.LlamaEvent,),
              errors=(*_INFERENCE_ERRORS, 409, 501, *_BACKEND_ERRORS)),
    Operation("post", "/completion", "llama.cpp's /completion (Continue): the client's prompt "
              "as it is; answered as llama-server does.", schemas.LlamaAnswers,
              schemas.LlamaCompletionRequest, events=(schemas.LlamaEvent,),
              errors=_INFERENCE_ERRORS + _BACKEND_ERRORS),
    Operation("get", "/openapi.json", "This document.", None, errors=(401, 403)),
)  # fmt: skip

_ERROR_TEXT = {
    400: "Unknown model, invalid JSON, or a prompt too large for the model.",
    401: "Missing or invalid client key.",
    403: "No client keys configured and the client is not on loopback.",
    413: "Request body too large.",
    409: "Superseded by a newer request of the same session.",
    422: "Validation error naming the field.",
    501: "The model has no FIM tokens (llama-server's answer).",
    502: "The backend refused or broke off.",
    503: "OverloadedError, circuit open or no backend available (see Retry-After).",
    504: "No first token, or the stream went silent, within the timeout.",
}


@cache
def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [schemas.ErrorResponse]
    for op in OPERATIONS:
        models += [m for m in (op.request, op.response, *op.events) if m is not None]
    keyed: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (model, "validation") for model in dict.fromkeys(models)
    ]
    refs, definitions = models_json_schema(keyed, ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return refs[(model, "validation")]

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.method + op.path.replace("/", "_").replace(".", "_"),
            "responses": _responses(op, ref),
        }
        if op.public:
            operation["security"] = []
        if op.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.request)}},
            }
        paths.setdefault(op.path, {})[op.method] = operation
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


def _responses(op: Operation, ref: Any) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if op.response is not None and op.json_too:
        content["application/json"] = {"schema": ref(op.response)}
    elif op.text_response:
        content["text/plain"] = {"schema": {"type": "string"}}
    elif not op.events:
        content["application/json"] = {"schema": {"type": "object"}}
    if op.events:
        content[SSE] = {"schema": _event_schema(op, ref)}
    responses: dict[str, Any] = {str(op.response_status): {"description": "OK", "content": content}}
    error = {"application/json": {"schema": ref(schemas.ErrorResponse)}}
    for status in op.errors:
        entry: dict[str, Any] = {"description": _ERROR_TEXT[status], "content": error}
        if status == 503:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[str(status)] = entry
    if op.path == "/v1/vps/health":
        responses["503"] = {
            "description": "No backend answers ok.",
            "content": {"application/json": {"schema": ref(schemas.VpsHealthResponse)}},
        }
    return responses


def _event_schema(op: Operation, ref: Any) -> dict[str, Any]:
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


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)]
