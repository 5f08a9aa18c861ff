"""api/routes/openai.py: response and stream shapes the openai client expects."""

from __future__ import annotations

import json

import pytest
from cerebrum.sse_reader import EventParser

pytestmark = pytest.mark.anyio


def data_lines(text: str) -> list[str]:
    return [data.decode() for data in EventParser().feed(text.encode())]


async def test_completion_has_the_openai_shape(client):
    response = await client.post(
        "/v1/completions", json={"model": "m1", "prompt": "x", "max_tokens": 3}
    )
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "m1"
    assert body["choices"] == [
        {"index": 0, "text": "def f():", "finish_reason": "length", "logprobs": None}
    ]
    assert body["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 3,
        "total_tokens": 6,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


async def test_completion_defaults_to_openais_16_tokens(client, fake_llama):
    await client.post("/v1/completions", json={"prompt": "x"})
    assert fake_llama.bodies[0]["n_predict"] == 16


async def test_completion_stream_chunks_end_with_done(client):
    response = await client.post(
        "/v1/completions", json={"prompt": "x", "max_tokens": 2, "stream": True}
    )
    lines = data_lines(response.text)
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert [c["choices"][0]["text"] for c in chunks] == ["def", " f", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all(c["object"] == "text_completion" for c in chunks)


async def test_chat_completion_has_the_openai_shape(client, fake_llama):
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
    )
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "def f"}
    assert body["usage"]["completion_tokens"] == 2
    assert fake_llama.requests[0].url.path == "/v1/chat/completions"


async def test_chat_stream_starts_with_the_role_and_can_report_usage(client):
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": "chat",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "max_tokens": 2,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    lines = data_lines(response.text)
    chunks = [json.loads(line) for line in lines[:-1]]
    assert lines[-1] == "[DONE]"
    assert chunks[0]["choices"][0]["delta"] == {"content": "def", "role": "assistant"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 2


async def test_stream_failure_sends_an_error_event_then_done(client, fake_llama):
    fake_llama.plan = ["break"]
    response = await client.post(
        "/v1/completions", json={"prompt": "x", "max_tokens": 5, "stream": True}
    )
    lines = data_lines(response.text)
    assert lines[-1] == "[DONE]"
    assert json.loads(lines[-2])["error"]["type"] == "backend_error"


async def test_more_than_one_choice_is_refused(client):
    response = await client.post("/v1/completions", json={"prompt": "x", "n": 2})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "n"


async def test_chat_needs_at_least_one_message(client):
    response = await client.post("/v1/chat/completions", json={"messages": []})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "messages"


async def test_sampling_parameters_reach_the_backend(client, fake_llama):
    await client.post(
        "/v1/completions",
        json={"prompt": "x", "top_p": 0.5, "seed": 7, "stop": "\n", "temperature": 0},
    )
    body = fake_llama.bodies[0]
    assert (body["top_p"], body["seed"], body["stop"], body["temperature"]) == (0.5, 7, ["\n"], 0.0)
