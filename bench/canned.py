"""Canned answers for the instant upstream (nginx): llama-server's, copied from b11312's
shapes, and an OpenAI server's (for the peer proxies, which speak OpenAI upstream).

`completion_stream(n)` is what `POST /completion` with `"stream": true` sends: n token events
(`content`, `tokens`, `stop: false`, ...) and a last event with `stop: true`, `stop_type`,
`tokens_predicted`, `timings` and the generation settings, as captured from the real server
(the last event alone is ~2 KB, so parsing it costs what it costs in production).
`openai_completion(n)` and `openai_completion_stream(n)` are the same n tokens as
`POST /v1/completions` answers them (llama-server's OpenAI route), whole or streamed.
"""

from __future__ import annotations

import json

TOKENS = 16
_WORDS = ("\n", "    ", "if", " n", " <", " ", "2", ":", "\n", "        ", "return", " n", "\n")

_SETTINGS = {
    "seed": 4294967295, "temperature": 0.8, "dynatemp_range": 0.0, "dynatemp_exponent": 1.0,
    "top_k": 40, "top_p": 0.95, "min_p": 0.05, "top_n_sigma": -1.0, "xtc_probability": 0.0,
    "xtc_threshold": 0.1, "typical_p": 1.0, "repeat_last_n": 64, "repeat_penalty": 1.0,
    "presence_penalty": 0.0, "frequency_penalty": 0.0, "dry_multiplier": 0.0, "dry_base": 1.75,
    "dry_allowed_length": 2, "dry_penalty_last_n": 64,
    "dry_sequence_breakers": ["\n", ":", '"', "*"], "mirostat": 0, "mirostat_tau": 5.0,
    "mirostat_eta": 0.1, "stop": [], "max_tokens": TOKENS, "n_predict": TOKENS, "n_keep": 0,
    "n_discard": 0, "ignore_eos": False, "stream": True, "logit_bias": [], "n_probs": 0,
    "min_keep": 0, "grammar": "", "grammar_lazy": False, "grammar_triggers": [],
    "preserved_tokens": [], "chat_format": "Content-only", "reasoning_format": "deepseek",
    "reasoning_in_content": False, "generation_prompt": "",
    "samplers": ["penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p", "min_p", "xtc",
                 "temperature"],
    "speculative.types": "none", "timings_per_token": False, "post_sampling_probs": False,
    "backend_sampling": False, "lora": [],
}  # fmt: skip


def completion_stream(tokens: int = TOKENS) -> str:
    """The SSE body of a streamed /completion that generated `tokens` tokens."""
    events: list[dict[str, object]] = [
        {
            "index": 0,
            "content": _WORDS[i % len(_WORDS)],
            "tokens": [1000 + i],
            "stop": False,
            "id_slot": -1,
            "tokens_predicted": i + 1,
            "tokens_evaluated": 7,
        }
        for i in range(tokens)
    ]
    events.append(_last_event(tokens))
    return "".join(f"data: {json.dumps(event, separators=(',', ':'))}\n\n" for event in events)


def _last_event(tokens: int) -> dict[str, object]:
    return {
        "index": 0, "content": "", "tokens": [], "id_slot": 0, "stop": True,
        "model": "gemma3-270m", "tokens_predicted": tokens, "tokens_evaluated": 7,
        "generation_settings": {**_SETTINGS, "max_tokens": tokens, "n_predict": tokens},
        "prompt": "<bos>def fibonacci(n):", "has_new_line": True, "truncated": False,
        "stop_type": "limit", "stopping_word": "", "tokens_cached": 7 + tokens,
        "timings": {
            "cache_n": 0, "prompt_n": 7, "prompt_ms": 40.0, "prompt_per_token_ms": 5.7,
            "prompt_per_second": 175.0, "predicted_n": tokens, "predicted_ms": 12.0 * tokens,
            "predicted_per_token_ms": 12.0, "predicted_per_second": 83.3,
        },
    }  # fmt: skip


def openai_completion(tokens: int = TOKENS) -> str:
    """The JSON body of a non-streamed /v1/completions that generated `tokens` tokens."""
    text = "".join(_WORDS[i % len(_WORDS)] for i in range(tokens))
    usage = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens}
    body = {**_openai_head(), "choices": [_openai_choice(text, "length")], "usage": usage}
    return json.dumps(body, separators=(",", ":"))


def openai_completion_stream(tokens: int = TOKENS) -> str:
    """The SSE body of a streamed /v1/completions: one chunk per token, then [DONE]."""
    chunks = [
        {**_openai_head(), "choices": [_openai_choice(_WORDS[i % len(_WORDS)], finish)]}
        for i, finish in enumerate([None] * (tokens - 1) + ["length"])
    ]
    lines = [f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n" for chunk in chunks]
    return "".join(lines) + "data: [DONE]\n\n"


def _openai_head() -> dict[str, object]:
    return {"id": "cmpl-bench", "object": "text_completion", "created": 1764979200,
            "model": "gemma3-270m", "system_fingerprint": "b11312-0c1e570"}  # fmt: skip


def _openai_choice(text: str, finish: str | None) -> dict[str, object]:
    return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}


def nginx_config(port: int, tokens: int = TOKENS) -> str:
    """One worker on 127.0.0.1:port answering from memory: /health, /models, /completion
    (llama-server's stream), /v1/completions (OpenAI, whole) and /stream/v1/completions
    (OpenAI, streamed: nginx answers without reading the body, so each shape has a path)."""
    stream = _quoted(completion_stream(tokens))
    openai = _quoted(openai_completion(tokens))
    openai_stream = _quoted(openai_completion_stream(tokens))
    health = _quoted('{"status":"ok"}')
    models = _quoted(json.dumps({"data": [{"id": "gemma3-270m", "status": {"value": "loaded"}}]}))
    return f"""\
worker_processes 1;
daemon off;
pid nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /health {{ default_type application/json; return 200 {health}; }}
        location = /models {{ default_type application/json; return 200 {models}; }}
        location = /completion {{ default_type text/event-stream; return 200 {stream}; }}
        location = /v1/completions {{ default_type application/json; return 200 {openai}; }}
        location = /stream/v1/completions {{
            default_type text/event-stream; return 200 {openai_stream};
        }}
        location / {{ return 404; }}
    }}
}}
"""


def _quoted(text: str) -> str:
    """`text` as an nginx quoted string (nginx expands $ in `return`: the bodies have none)."""
    if "$" in text:
        raise ValueError("a canned body must not contain '$'")
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"
