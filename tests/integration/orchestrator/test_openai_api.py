"""The OpenAI-compatible routes, driven by the official `openai` client, unchanged."""

from __future__ import annotations

import openai
import pytest
from cerebrum.sse_reader import iter_events

from harness.orchestrator import CLIENT_KEY


@pytest.fixture
def client(orchestrator):
    with openai.OpenAI(base_url=f"{orchestrator.url}/v1", api_key=CLIENT_KEY, max_retries=0) as c:
        yield c


def test_openai_client_gets_a_text_completion(client):
    completion = client.completions.create(
        model="gemma", prompt="def add(a, b):", max_tokens=8, temperature=0
    )
    assert completion.object == "text_completion"
    assert completion.model == "gemma"
    assert completion.choices[0].text
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 8
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 8


def test_openai_client_streams_a_text_completion(client):
    stream = client.completions.create(
        model="gemma", prompt="def add(a, b):", max_tokens=8, temperature=0, stream=True
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_openai_client_gets_a_chat_completion(client):
    chat = client.chat.completions.create(
        model="smol",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
        max_tokens=8,
    )
    assert chat.object == "chat.completion"
    assert chat.model == "smol"
    assert chat.choices[0].message.role == "assistant"
    assert chat.choices[0].message.content
    assert chat.usage.completion_tokens >= 1


def test_openai_client_streams_a_chat_completion_with_usage(client):
    stream = client.chat.completions.create(
        model="smol",
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    assert deltas[0].role == "assistant"
    assert "".join(delta.content or "" for delta in deltas)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in {"stop", "length"}
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens >= 1


def test_openai_client_lists_the_configured_models(client):
    ids = [model.id for model in client.models.list()]
    assert ids == ["gemma", "smol", "smol-fim"]


def test_openai_client_sees_an_unknown_model_as_bad_request(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
    assert "gemma" in str(caught.value)


def test_openai_client_with_a_wrong_key_is_unauthorized(orchestrator):
    with (
        openai.OpenAI(base_url=f"{orchestrator.url}/v1", api_key="nope", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.completions.create(model="gemma", prompt="x", max_tokens=2)


def test_raw_openai_stream_ends_with_done(orchestrator):
    with orchestrator.client() as http, http.stream(
        "POST", "/v1/chat/completions",
        json={"model": "smol", "messages": [{"role": "user", "content": "Hi"}],
              "max_tokens": 4, "stream": True},
    ) as response:  # fmt: skip
        data = list(iter_events(response))
    assert data[-1] == b"[DONE]"
