"""llama.cpp's /infill and /completion on the CM4, driven with the bodies the editor plugins
send (tests/fixtures/editors: llama.vim, llama.vscode and Continue, field for field), against
the real llama-server serving the lab's FIM model (SmolLM2 with its FIM tokens marked)."""

from __future__ import annotations

import concurrent.futures
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cerebrum.sse_reader import iter_events

from harness.llama_server import LlamaServer
from harness.orchestrator import lab_models
from harness.ports import wait_until

FIXTURES = Path(__file__).parents[2] / "fixtures" / "editors"
MODEL = "smollm2-135m"  # the router id the FIM alias smol-fim prompts
SLOT = 2048


def body(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded | changes


def code_chunks() -> list[dict[str, Any]]:
    """A ring of chunks as llama.vim sends them: 64-line pieces of real files."""
    root = Path(__file__).parents[3] / "app" / "cerebrum"
    chunks = []
    for path in ("core/router.py", "core/breaker.py", "api/sse.py"):
        lines = (root / path).read_text().splitlines(keepends=True)
        chunks.append({"text": "".join(lines[40:104]), "time": [1, 2], "filename": path})
    return chunks


def infill(client: httpx.Client, payload: dict[str, Any]) -> httpx.Response:
    return client.post("/infill", content=json.dumps(payload))  # as curl sends it: raw JSON


def test_llama_vim_warm_up_then_completions_reuse_the_backends_cache(orchestrator):
    extra = code_chunks()
    with orchestrator.client() as client:
        warm = infill(client, body("llama_vim_warmup", input_extra=extra))
        assert warm.status_code == 200, warm.text
        assert warm.json() == {}  # response_fields [""], as llama-server answers it
        prefix = "import anyio\n\n\nclass Pool:\n    def __init__(self):\n        self.size = 0\n"
        answers = []
        for typed in ("    def gr", "    def grow", "    def grow(self"):
            sent = body("llama_vim_fim", input_extra=extra, input_prefix=prefix, prompt=typed,
                        input_suffix="\n", n_predict=8)  # fmt: skip
            response = infill(client, sent)
            assert response.status_code == 200, response.text
            # llama.vim drops an answer unless it is one compact JSON object with "content":"
            assert re.match(r"^\s*{", response.text)
            assert re.search(r'"content"\s*:"', response.text)
            answers.append(response.json())
    for answer in answers:
        assert set(answer) <= set(sent["response_fields"])
        assert {"content", "timings/prompt_n", "tokens_cached"} <= set(answer)
    first, *keystrokes = answers
    print("prompt tokens processed per request:", [a["timings/prompt_n"] for a in answers],
          "cached:", [a["tokens_cached"] for a in answers])  # fmt: skip
    # The warm-up processed the context: the first completion only adds the prefix and line.
    assert first["timings/prompt_n"] < first["tokens_cached"] / 2
    for answer in keystrokes:  # a keystroke re-processes only what changed at the cursor
        assert answer["timings/prompt_n"] <= 16
        assert answer["tokens_cached"] > 300


def test_llama_vscode_gets_several_completions_as_an_array(orchestrator):
    with orchestrator.client() as client:
        response = infill(client, body("llama_vscode_fim", n_predict=4))
    assert response.status_code == 200, response.text
    answers = response.json()
    assert isinstance(answers, list)
    assert [answer["index"] for answer in answers] == [0, 1]  # n_cmpl 3, capped at 2 slots
    for answer in answers:  # llama.vscode reads content, tokens_cached and the timings
        assert isinstance(answer["content"], str)
        assert answer["stop"] is True
        assert {"prompt_n", "predicted_n", "cache_n"} <= set(answer["timings"])
        assert answer["tokens_cached"] > 0


def test_infill_naming_a_model_without_fim_tokens_is_refused_naming_it(orchestrator):
    with orchestrator.client() as client:
        response = infill(client, body("llama_vim_fim", model="gemma"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "not_a_fim_model"
    assert "'gemma'" in error["message"]
    assert "smol-fim" in error["message"]


def test_without_a_fim_model_infill_answers_as_llama_server_does(start_orchestrator):
    models = [{"alias": "gemma", "model": "gemma3-270m", "context_size": SLOT}]
    instance = start_orchestrator(models=json.dumps(models), default_model="gemma")
    with instance.client() as client:
        response = infill(client, body("llama_vim_fim"))
    assert response.status_code == 501
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (501, "not_supported_error")
    assert error["message"].startswith("Infill is not supported by this model")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_extra": "not a list"}, "input_extra"),
        ({"input_extra": [{"filename": "a.py"}]}, "input_extra.0.text"),
        ({"n_predict": "128"}, "n_predict"),
        ({"n_cmpl": 0}, "n_cmpl"),
        ({"response_fields": "content"}, "response_fields"),
    ],
)
def test_bad_infill_input_gets_a_4xx_naming_the_field(orchestrator, change, field):
    with orchestrator.client() as client:
        response = infill(client, body("llama_vim_fim") | change)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_continue_streams_a_completion_as_llama_server_does(orchestrator):
    sent = body("continue_completion", model="gemma", n_predict=6, temperature=0)
    with orchestrator.client() as client, client.stream("POST", "/completion", json=sent) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(data) for data in iter_events(r)]
    assert events[-1]["stop"] is True
    assert all(event["stop"] is False for event in events[:-1])
    assert "".join(event["content"] for event in events)
    assert 1 <= events[-1]["tokens_predicted"] <= 6  # Continue's stop words may end it early
    assert {"prompt_n", "cache_n"} <= set(events[-1]["timings"])


def test_completion_answers_one_object_with_the_cache_figures(orchestrator):
    with orchestrator.client() as client:
        response = client.post(
            "/completion", json={"prompt": "def add(a, b):", "n_predict": 4, "model": "gemma"}
        )
        stats = client.get("/v1/stats").json()["prompt_cache"]
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["tokens_predicted"] == 4
    assert (
        answer["timings"]["cache_n"] + answer["timings"]["prompt_n"] == answer["tokens_evaluated"]
    )
    assert stats["prompt_tokens"] >= answer["tokens_evaluated"]
    assert 0 <= stats["cached_tokens"] <= stats["prompt_tokens"]


def test_exact_token_counts_fill_the_slot_and_never_overflow_it(orchestrator):
    """Far more context than a 2,048-token slot holds: the backend's tokenizer counts what
    the estimate would over-count, and the prompt still fits (not truncated)."""
    root = Path(__file__).parents[3] / "app" / "cerebrum"
    extra = [
        {"text": path.read_text(), "filename": str(path.relative_to(root))}
        for path in sorted(root.glob("core/*.py"))
    ]
    sent = body("llama_vim_fim", input_extra=extra, n_predict=16, response_fields=[])
    with orchestrator.client() as client:
        first = infill(client, sent)
        second = infill(client, sent)
        counted = client.get("/v1/stats").json()["prompt_cache"]["token_counts"]
    for response in (first, second):
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["truncated"] is False
        assert answer["tokens_evaluated"] + 16 <= SLOT
    assert counted > 0  # the backend's tokenizer counted the context
    print("prompt tokens with exact counts:", second.json()["tokens_evaluated"], "of", SLOT)
    assert second.json()["tokens_evaluated"] > SLOT * 0.6  # the estimate alone leaves ~40% unused


# --- two backends ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_backend(llama_server, tmp_path_factory) -> Iterator[LlamaServer]:
    """Another real llama-server with the same key and models (a second VPS)."""
    server = LlamaServer.with_lab_models(
        tmp_path_factory.mktemp("second"), api_key=llama_server.api_key
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def loaded(server: LlamaServer) -> bool:
    """Whether the server loaded the FIM model (router mode loads it on first use)."""
    listing = httpx.get(f"{server.url}/models", headers=server.headers, timeout=5).json()
    status = {entry["id"]: entry.get("status", {}).get("value") for entry in listing["data"]}
    return status.get(MODEL) == "loaded"


def test_an_editor_document_stays_on_one_backend_and_fails_over(
    start_orchestrator, llama_server, second_backend
):
    servers = [llama_server, second_backend]
    for server in servers:  # a fresh start, so that "loaded" tells who served the document
        server.stop()
        server.start()
    instance = start_orchestrator(backends=json.dumps([s.url for s in servers]))
    extra = code_chunks()
    with instance.client() as client:
        assert infill(client, body("llama_vim_warmup", input_extra=extra)).status_code == 200
        for typed in ("    x = ", "    x = 1", "    x = 12"):
            sent = body("llama_vim_fim", input_extra=extra, prompt=typed, n_predict=4)
            assert infill(client, sent).status_code == 200
        homes = [server for server in servers if loaded(server)]
        assert len(homes) == 1  # one cold start for the document, on its own backend
        own, other = homes[0], next(server for server in servers if server is not homes[0])
        own.stop()  # its backend goes away: the document moves to the next one
        moved = infill(client, body("llama_vim_fim", input_extra=extra, n_predict=4))
    assert moved.status_code == 200, moved.text
    assert loaded(other)


def test_a_newer_keystroke_supersedes_the_older_and_frees_its_slot(orchestrator, llama_server):
    long_one = body(  # long: no end of generation, no time limit, no infill sampler (ends)
        "llama_vim_fim", n_predict=1500, stream=True, ignore_eos=True, t_max_predict_ms=0,
        samplers=["top_k", "top_p"],
    )  # fmt: skip
    short_one = body("llama_vim_fim", n_predict=2)
    with orchestrator.client() as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        with client.stream("POST", "/infill", content=json.dumps(long_one)) as older:
            events = iter_events(older)
            assert json.loads(next(events))["stop"] is False  # generating
            newer = pool.submit(infill, client, short_one).result(timeout=60)
            rest = [json.loads(data) for data in events]
        superseded = client.get("/v1/stats").json()["requests"]["superseded"]
    assert newer.status_code == 200, newer.text
    assert rest, "the older stream ended without a last event"
    assert rest[-1].get("error", {}).get("type") == "superseded", rest[-1]
    assert superseded >= 1
    assert wait_until(
        lambda: not any(slot["is_processing"] for slot in llama_server.slots(MODEL)), 3.0
    )


# --- documents: many editors at once -------------------------------------------------------

FILES = ("core/router.py", "core/breaker.py", "api/sse.py", "core/limiter.py")
WITH_SLOT = [*body("llama_vim_fim")["response_fields"], "id_slot"]


def keystroke(path: str, typed: str, **changes: Any) -> dict[str, Any]:
    """llama.vim's body with the cursor at the end of line 41 of ``path`` (its own file, its
    own ring of chunks from the others), ``typed`` on the cursor's line; a few hundred
    tokens (a short suffix: what a keystroke re-processes is then the cursor's line)."""
    root = Path(__file__).parents[3] / "app" / "cerebrum"
    lines = (root / path).read_text().splitlines(keepends=True)
    ring = [
        {"text": "".join((root / other).read_text().splitlines(keepends=True)[:8]),
         "time": [1, 2], "filename": other}
        for other in FILES if other != path
    ]  # fmt: skip
    return body(
        "llama_vim_fim", input_prefix="".join(lines[20:40]), prompt=typed,
        input_suffix="\n", input_extra=ring, n_predict=4,
        response_fields=WITH_SLOT,
    ) | changes  # fmt: skip


def typed(client: httpx.Client, path: str, text: str, **changes: Any) -> dict[str, Any]:
    """One keystroke's answer (the machine may be loaded: a cold prompt can take a while)."""
    response = infill(client, keystroke(path, text, **changes))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_two_documents_of_one_key_never_supersede_each_other(start_orchestrator):
    long_one = keystroke(  # still generating when the other document's keystroke comes
        FILES[0], "    x", n_predict=64, stream=True, ignore_eos=True, t_max_predict_ms=0,
        samplers=["top_k", "top_p"], input_extra=[],
    )  # fmt: skip
    # generous timeouts: the other prompt is processed between two tokens of the first
    instance = start_orchestrator(idle_timeout="120", first_token_timeout="120")
    with (
        instance.client(timeout=300) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
        client.stream("POST", "/infill", content=json.dumps(long_one)) as first,
    ):
        events = iter_events(first)
        assert json.loads(next(events))["stop"] is False  # generating
        other = pool.submit(typed, client, FILES[1], "    y", input_extra=[]).result(timeout=180)
        rest = [json.loads(data) for data in events]
    assert "content" in other
    assert "error" not in rest[-1], rest[-1]  # ended as it would alone: no 409
    assert rest[-1]["timings/predicted_n"] == 64


def test_documents_keep_their_backend_and_slot_across_keystrokes(
    start_orchestrator, llama_server, second_backend
):
    """Three documents typed in turn on 2 backends x 2 slots: each keystroke lands where
    the document's prompt is cached, so it re-processes only what changed at the cursor."""
    instance = start_orchestrator(backends=json.dumps([llama_server.url, second_backend.url]))
    answers: dict[str, list[dict[str, Any]]] = {path: [] for path in FILES[:3]}
    with instance.client(timeout=300) as client:
        for text in ("    x", "    x =", "    x = 1", "    x = 12"):
            for path in answers:
                answers[path].append(typed(client, path, text))
        documents = client.get("/v1/stats").json()["documents"]
    for path, seen in answers.items():
        print(path, "processed:", [a["timings/prompt_n"] for a in seen],
              "slot:", [a["id_slot"] for a in seen])  # fmt: skip
        assert len({answer["id_slot"] for answer in seen}) == 1
        for answer in seen[1:]:
            assert answer["timings/prompt_n"] <= 16, seen
            assert answer["tokens_cached"] > 10 * answer["timings/prompt_n"], seen
    assert documents["remembered"] == 3
    assert documents["slots_held"] == 3
    assert documents["evictions"] == 0


@pytest.mark.parametrize(("order", "cap"), [("psm", None), ("spm", None), ("psm", 48)])
def test_suffix_first_a_keystroke_re_processes_what_was_typed_not_the_suffix(
    start_orchestrator, order, cap
):
    """llama.vim's default 64 lines after the cursor: prefix first (llama-server's /infill
    layout), every keystroke re-processes that whole suffix, or its first lines within
    ``fim.max_suffix_tokens``; suffix first (a model of ``fim.order`` spm), only what was
    typed."""
    root = Path(__file__).parents[3] / "app" / "cerebrum"
    suffix = "".join((root / FILES[0]).read_text().splitlines(keepends=True)[41:105])
    models = lab_models(SLOT, fim_order=order, max_suffix_tokens=cap)
    instance = start_orchestrator(models=json.dumps(models))
    with instance.client(timeout=300) as client:
        seen = [
            typed(client, FILES[0], text, input_suffix=suffix)
            for text in ("    x", "    x =", "    x = 1")
        ]
    processed = [answer["timings/prompt_n"] for answer in seen]
    print(order, cap, "processed:", processed)
    if order == "spm":
        assert max(processed[1:]) <= 8, processed
    elif cap is not None:  # the cap counts safe upper-bound estimates: fewer real tokens
        assert 8 < max(processed[1:]) <= cap + 8, processed
    else:
        assert min(processed[1:]) > 200, processed  # the suffix: ~400 tokens


def test_the_least_recently_typed_document_loses_its_slot_first(start_orchestrator):
    """Three documents on one backend of two slots: the third takes the slot of the one
    typed in longest ago; the other keeps its slot and its cache. (What the evicted one
    re-processes when it comes back depends on llama-server's RAM prompt cache, --cache-ram,
    which may restore its prompt: not asserted.)"""
    instance = start_orchestrator()
    with instance.client(timeout=300) as client:
        old = typed(client, FILES[0], "    a")
        recent = typed(client, FILES[1], "    b")
        typed(client, FILES[0], "    ab")  # FILES[0] typed again: FILES[1] is now the LRU
        third = typed(client, FILES[2], "    c")
        kept = typed(client, FILES[0], "    abc")
        evicted = typed(client, FILES[1], "    bc")
        documents = client.get("/v1/stats").json()["documents"]
    assert third["id_slot"] == recent["id_slot"] != old["id_slot"]
    assert kept["id_slot"] == old["id_slot"]
    assert kept["timings/prompt_n"] <= 16  # still cached
    assert evicted["id_slot"] == third["id_slot"]  # back: the third is now typed longest ago
    assert documents["evictions"] == 2
