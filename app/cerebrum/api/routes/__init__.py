"""The orchestrator's endpoints, declared once: the table below, read top to bottom.

Each row names a route (method, path, handler), whether it needs a client key (``public``)
and holds a load-shedding place (``shed``), and what the OpenAPI document says of it. The
app's routes, its public paths and GET /openapi.json are all derived from ``ENDPOINTS``
(``api/endpoints.py``, ``routes/schema.py``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cerebrum.api import schemas
from cerebrum.api.endpoints import Answer, Endpoint
from cerebrum.api.responses import JSONResponse
from cerebrum.api.routes import (
    dashboard,
    health,
    inference,
    llama,
    models,
    openai,
    schema,
    stats,
    usage,
)


async def openapi(request: Request) -> Response:
    """This table's OpenAPI document."""
    return JSONResponse(schema.document(ENDPOINTS))


_KEYED = (401, 403)  # every endpoint but the public ones
_INFERENCE_ERRORS = (400, *_KEYED, 413, 422, 429, 503)  # 429: a key's own limit
_BACKEND_ERRORS = (502, 504)

ENDPOINTS = (
    Endpoint("GET", "/health", health.health,
             "Liveness, version and uptime (no backend call).",
             schemas.HealthResponse, public=True),
    Endpoint("GET", "/v1/vps/health", health.vps_health,
             "Backend reachability, latency, loading and circuit state.",
             schemas.VpsHealthResponse, errors=_KEYED,
             answers=(Answer(503, "No backend answers ok.", schemas.VpsHealthResponse),)),
    Endpoint("POST", "/v1/complete", inference.complete,
             "Generate a completion.",
             schemas.CompleteResponse, schemas.CompleteRequest,
             errors=_INFERENCE_ERRORS + _BACKEND_ERRORS, shed=True),
    Endpoint("POST", "/v1/complete/stream", inference.complete_stream,
             "Stream a completion as SSE: data: {token, total_tokens} per piece, then "
             "data: {done: true, total_tokens, inference_time} (with error on failure).",
             None, schemas.CompleteRequest, events=(schemas.TokenEvent, schemas.DoneEvent),
             errors=_INFERENCE_ERRORS, shed=True),
    Endpoint("GET", "/v1/models", models.models,
             "Configured models and what the backends report.",
             schemas.ModelList, errors=_KEYED),
    Endpoint("GET", "/v1/stats", stats.stats,
             "Requests, latency percentiles, tokens/s, circuits, RSS.",
             schemas.StatsResponse, errors=_KEYED),
    Endpoint("GET", "/v1/usage", usage.usage,
             "Usage per client key name, model and UTC day (admin keys): requests, tokens, "
             "errors, shed, time to first token, suggestions accepted; ?days=7&key=&model=.",
             schemas.UsageResponse, errors=(400, *_KEYED, 422, 503), admin=True),
    Endpoint("GET", "/dashboard", dashboard.dashboard,
             "The operator's page (admin keys; a browser sends the key as the password of "
             "HTTP Basic): backends, TTFT over time, usage per key, acceptance, recent errors.",
             text_response="text/html", errors=(*_KEYED,), admin=True),
    Endpoint("GET", "/metrics", stats.metrics,
             "The same figures for Prometheus.",
             text_response="text/plain", errors=_KEYED),
    Endpoint("POST", "/v1/completions", openai.completions,
             "OpenAI-compatible text completion.",
             schemas.OpenAICompletion, schemas.OpenAICompletionRequest,
             events=(schemas.OpenAICompletion, schemas.ErrorResponse), done_marker=True,
             errors=_INFERENCE_ERRORS + _BACKEND_ERRORS, shed=True),
    Endpoint("POST", "/v1/chat/completions", openai.chat_completions,
             "OpenAI-compatible chat completion.",
             schemas.OpenAIChatCompletion, schemas.OpenAIChatRequest,
             events=(schemas.OpenAIChatCompletionChunk, schemas.ErrorResponse),
             done_marker=True, errors=_INFERENCE_ERRORS + _BACKEND_ERRORS, shed=True),
    Endpoint("POST", "/infill", llama.infill,
             "llama.cpp's /infill (llama.vim, llama.vscode): fill in at the cursor with the "
             "context of input_extra; answered as llama-server does.",
             schemas.LlamaAnswers, schemas.InfillRequest, events=(schemas.LlamaEvent,),
             errors=(*_INFERENCE_ERRORS, 409, 501, *_BACKEND_ERRORS), shed=True),
    Endpoint("POST", "/completion", llama.completion,
             "llama.cpp's /completion (Continue): the client's prompt as it is; answered as "
             "llama-server does.",
             schemas.LlamaAnswers, schemas.LlamaCompletionRequest, events=(schemas.LlamaEvent,),
             errors=_INFERENCE_ERRORS + _BACKEND_ERRORS, shed=True),
    Endpoint("GET", "/openapi.json", openapi,
             "This document.",
             errors=_KEYED),
)  # fmt: skip
