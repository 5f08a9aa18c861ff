"""core/vps_client.py: request bodies, the backend key, stream parsing, status mapping."""

from __future__ import annotations

import httpx
import pytest
from cerebrum.core.errors import BackendAuthError, BackendRejectedError, BackendUnavailableError
from cerebrum.core.generation import Generation
from cerebrum.core.vps_client import VpsClient

from tests.unit.fakes import FakeLlama

pytestmark = pytest.mark.anyio

KEY = "backend-secret-key"


def client_for(fake: FakeLlama, api_key: str | None = KEY) -> VpsClient:
    return VpsClient(
        "http://vps.test:9000/", httpx.AsyncClient(transport=fake.transport()), api_key
    )


async def collect(client: VpsClient, generation: Generation):
    upstream = await client.open(generation)
    try:
        return [chunk async for chunk in upstream]
    finally:
        await upstream.aclose()


async def test_sends_the_backend_key_as_a_bearer_token():
    fake = FakeLlama()
    await collect(client_for(fake), Generation(model="m1", max_tokens=2, prompt="x"))
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_each_generation_asks_for_its_own_connection():
    fake = FakeLlama()
    await collect(client_for(fake), Generation(model="m1", max_tokens=2, prompt="x"))
    assert fake.requests[0].headers["connection"] == "close"


async def test_sends_no_authorization_without_a_key():
    fake = FakeLlama()
    await collect(client_for(fake, api_key=None), Generation(model="m1", max_tokens=2, prompt="x"))
    assert "authorization" not in fake.requests[0].headers


async def test_prompt_goes_to_native_completion_with_n_predict_and_model():
    fake = FakeLlama()
    generation = Generation(model="m1", max_tokens=3, prompt="def", temperature=0.2, stop=("\n\n",))
    await collect(client_for(fake), generation)
    assert fake.requests[0].url.path == "/completion"
    assert fake.bodies[0] == {
        "model": "m1", "stream": True, "temperature": 0.2, "stop": ["\n\n"],
        "prompt": "def", "n_predict": 3, "cache_prompt": True,
    }  # fmt: skip


async def test_messages_go_to_chat_completions_with_usage_requested():
    fake = FakeLlama()
    generation = Generation(model="c1", max_tokens=2, messages=(("user", "hi"),))
    await collect(client_for(fake), generation)
    assert fake.requests[0].url.path == "/v1/chat/completions"
    assert fake.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]
    assert fake.bodies[0]["stream_options"] == {"include_usage": True}


async def test_completion_stream_yields_tokens_then_a_final_chunk():
    chunks = await collect(
        client_for(FakeLlama()), Generation(model="m1", max_tokens=3, prompt="x")
    )
    assert [c.text for c in chunks] == ["def", " f", "():", ""]
    assert [c.tokens for c in chunks[:-1]] == [1, 1, 1]
    final = chunks[-1]
    assert final.done
    assert final.finish_reason == "length"
    assert (final.prompt_tokens, final.completion_tokens) == (3, 3)


async def test_chat_stream_ends_with_usage_from_the_backend():
    generation = Generation(model="c1", max_tokens=2, messages=(("user", "hi"),))
    chunks = await collect(client_for(FakeLlama()), generation)
    assert "".join(c.text for c in chunks) == "def f"
    assert chunks[-1].done
    assert chunks[-1].completion_tokens == 2
    assert chunks[-1].prompt_tokens == 3


async def test_401_is_a_backend_auth_error_that_does_not_contain_the_key():
    with pytest.raises(BackendAuthError) as caught:
        await collect(
            client_for(FakeLlama(plan=["401"])), Generation(model="m", max_tokens=1, prompt="x")
        )
    assert "CEREBRUM_API_KEY" in caught.value.message
    assert KEY not in caught.value.message


async def test_503_is_backend_unavailable():
    with pytest.raises(BackendUnavailableError, match="HTTP 503: Loading model"):
        await collect(
            client_for(FakeLlama(plan=["503"])), Generation(model="m", max_tokens=1, prompt="x")
        )


async def test_400_keeps_the_backend_message():
    with pytest.raises(BackendRejectedError, match="model 'x' not found"):
        await collect(
            client_for(FakeLlama(plan=["400"])), Generation(model="m", max_tokens=1, prompt="x")
        )


async def test_connection_refused_is_backend_unavailable():
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        await collect(
            client_for(FakeLlama(plan=["refuse"])), Generation(model="m", max_tokens=1, prompt="x")
        )


async def test_health_reports_loading_while_the_backend_answers_503():
    health = await client_for(FakeLlama(health_status=503)).health()
    assert (health.reachable, health.status, health.detail) == (True, "loading", "Loading model")


async def test_models_reports_each_model_status():
    fake = FakeLlama(models_status={"m1": "loaded", "c1": "unloaded"})
    assert await client_for(fake).models() == {"m1": "loaded", "c1": "unloaded"}
