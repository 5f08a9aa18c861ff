"""bench/client.py: the one definition of time to first token that every benchmark uses."""

from __future__ import annotations

from bench.client import Stream


def test_time_to_first_token_ends_at_the_first_event_that_carries_text():
    stream = Stream(status=200, sent_at=10.0)
    stream.record({"content": "", "stop": False}, "direct", 10.2)  # an empty piece: no token
    stream.record({"content": "def", "stop": False}, "direct", 10.5)
    stream.record({"content": " f", "stop": False}, "direct", 10.7)
    assert stream.ttft == 0.5


def test_the_orchestrators_token_events_are_read_by_their_token_field():
    stream = Stream(status=200, sent_at=0.0)
    stream.record({"token": "x", "total_tokens": 1}, "orchestrator", 0.25)
    stream.record({"done": True, "total_tokens": 1, "inference_time": 0.3}, "orchestrator", 0.3)
    assert (stream.ttft, stream.tokens, stream.text_events) == (0.25, 1, 1)


def test_an_error_event_makes_the_stream_fail():
    stream = Stream(status=200, sent_at=0.0)
    stream.record({"token": "x", "total_tokens": 1}, "orchestrator", 0.1)
    stream.record({"done": True, "error": {"message": "backend died"}}, "orchestrator", 0.2)
    stream.end(0.2)
    assert not stream.ok
    assert "backend died" in str(stream.error)


def test_a_stream_that_ends_without_a_token_is_an_error():
    stream = Stream(status=200, sent_at=0.0)
    stream.record({"content": "", "stop": True, "tokens_predicted": 0}, "direct", 0.1)
    stream.end(0.1)
    assert stream.ttft is None
    assert stream.error == "no token in the stream"


def test_the_last_event_is_kept_for_its_timings():
    stream = Stream(status=200, sent_at=0.0)
    stream.record({"content": "a", "stop": False}, "direct", 0.1)
    stream.record({"content": "", "stop": True, "timings": {"prompt_n": 5}}, "direct", 0.2)
    assert stream.last == {"content": "", "stop": True, "timings": {"prompt_n": 5}}
