"""The bench's pure helpers: canned upstream answers, interval overlap, the requests it sends."""

from __future__ import annotations

import json

import orjson
from cerebrum.sse_reader import EventParser

from bench import canned
from bench.memory import max_overlap
from bench.prompts import case, stdlib_files


def test_canned_stream_is_llama_server_shaped_sse():
    events = [json.loads(data) for data in EventParser().feed(canned.completion_stream(4).encode())]
    assert [e["content"] for e in events[:4]] == ["\n", "    ", "if", " n"]
    assert [e["stop"] for e in events] == [False] * 4 + [True]
    assert events[-1]["tokens_predicted"] == 4
    assert events[-1]["stop_type"] == "limit"


def test_nginx_config_quotes_the_bodies_for_nginx():
    config = canned.nginx_config(8080, 2)
    assert "listen 127.0.0.1:8080" in config
    stream = config.split("location = /completion")[1]
    assert "\\n\\ndata: " in stream  # newlines escaped for nginx, which turns \\n back into one
    assert "\\\\n" in stream  # a JSON "\n" escape keeps its backslash


def test_open_intervals_at_one_instant():
    assert max_overlap([(0.0, 3.0), (1.0, 2.0), (2.5, 4.0), (5.0, 6.0)]) == 2
    assert max_overlap([]) == 0


def test_direct_body_carries_the_prompt_the_orchestrator_assembles():
    request = case("2KB", "n0nce", 16, 8192)
    body = orjson.loads(request.direct_body())
    assert body["prompt"] == request.plan.prompt
    assert body["prompt"].startswith("# path: bench-n0nce/")  # the nonce opens the prompt
    assert (body["n_predict"], body["stream"], body["cache_prompt"]) == (16, True, True)
    assert orjson.loads(request.orchestrator_body())["context"][0]["path"].startswith(
        "bench-n0nce/"
    )


def test_short_prompt_starts_with_its_nonce():
    request = case("short", "abc", 16, 8192)
    assert request.plan.prompt == request.request.prompt
    assert request.plan.prompt.startswith("# request abc\n")


def test_stdlib_context_is_about_the_size_asked():
    files = stdlib_files(16384, 4096)
    total = sum(len(text.encode()) for _, text in files)
    assert 16384 - 512 <= total <= 16384
    assert all(len(text.encode()) <= 4096 and text.endswith("\n") for _, text in files)


def test_the_sse_bench_upstream_sends_the_canned_events_one_chunk_each():
    import httptools

    from bench import sse as sse_bench

    body: list[bytes] = []

    class Collect:
        def on_body(self, piece: bytes) -> None:
            body.append(piece)

    httptools.HttpResponseParser(Collect()).feed_data(sse_bench._chunked(sse_bench.EVENTS))
    assert len(sse_bench.EVENTS) == canned.TOKENS + 1
    assert b"".join(body) == canned.completion_stream().encode()
    assert EventParser().feed(b"".join(body)) == [e[6:-2] for e in sse_bench.EVENTS]


def test_ab_compares_bodies_the_orchestrator_accepts():
    from cerebrum.api.routes import ENDPOINTS

    from bench import ab

    posts = {e.path: e.request for e in ENDPOINTS if e.method == "POST"}
    for path, body in ab.requests().values():
        request = posts[path]
        assert request is not None
        request.model_validate_json(body)  # raises when the orchestrator would answer 422


def test_ab_takes_each_sides_median_and_counts_every_error():
    from bench import ab

    runs = [
        {"cpu_us_per_request": cpu, "requests_per_s": rate, "error_total": errors}
        for cpu, rate, errors in ((1000.0, 900.0, 0), (1400.0, 700.0, 2), (1100.0, 800.0, 1))
    ]
    summary = ab._summary(runs)
    assert summary["cpu_us_per_request"] == 1100.0
    assert summary["cpu_us_range"] == [1000.0, 1400.0]
    assert summary["requests_per_s"] == 800.0
    assert summary["errors"] == 3
