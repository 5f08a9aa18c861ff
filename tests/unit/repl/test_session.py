"""The REPL session against scripted answers: Ctrl-C closes the stream, commands keep state."""

from __future__ import annotations

import io
import json

import httpx
from cerebrum.repl.client import Client
from cerebrum.repl.render import Output
from cerebrum.repl.session import Session
from cerebrum.repl.state import State

MODELS = {"default": "gemma", "data": [{"id": "gemma"}, {"id": "smol"}]}


class Body(httpx.SyncByteStream):
    """A response body that records whether the client closed it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self):
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


class InterruptingOutput(Output):
    """Ctrl-C pressed while the first token is printed."""

    def token(self, text: str) -> None:
        super().token(text)
        raise KeyboardInterrupt


def session_for(body: Body, output_class=Output, requests=None) -> tuple[Session, io.StringIO]:
    def handle(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        headers = {"content-type": "text/event-stream", "x-request-id": "rid-7"}
        return httpx.Response(200, stream=body, headers=headers)

    shown = io.StringIO()
    client = Client("http://cerebrum.test", transport=httpx.MockTransport(handle))
    return Session(client, output_class(shown, shown), State()), shown


def events(count: int) -> list[bytes]:
    return [
        b"data: " + json.dumps({"token": f"t{i}", "total_tokens": i + 1}).encode() + b"\n\n"
        for i in range(count)
    ]


def test_ctrl_c_while_streaming_closes_the_response_and_reports_a_stopped_summary():
    body = Body(events(50))
    session, shown = session_for(body, InterruptingOutput)
    assert session.complete("x") == "stopped"
    assert body.closed
    assert shown.getvalue().splitlines()[-1].startswith("-- stopped: 1 token, ")
    assert "request rid-7" in shown.getvalue()


def test_a_successful_completion_ends_with_its_summary():
    done = b'data: {"done": true, "total_tokens": 3, "inference_time": 0.01}\n\n'
    session, shown = session_for(Body([*events(3), done]))
    assert session.complete("x") == "ok"
    lines = shown.getvalue().splitlines()
    assert lines[0] == "t0t1t2"
    assert lines[1].startswith("-- 3 tokens, "), lines


def test_model_command_switches_only_to_a_listed_model():
    requests: list[httpx.Request] = []
    session, shown = session_for(Body([]), requests=requests)
    assert session.handle(":model smol")
    assert session.state.model == "smol"
    assert session.handle(":model nope")
    assert session.state.model == "smol"
    assert "error: unknown model nope; known: gemma, smol" in shown.getvalue()
    assert [r.url.path for r in requests] == ["/v1/models", "/v1/models"]


def test_quit_ends_the_session_and_a_wrong_command_does_not():
    session, shown = session_for(Body([]))
    assert session.handle(":max 9000")
    assert "error: usage: :max N" in shown.getvalue()
    assert not session.handle(":quit")
