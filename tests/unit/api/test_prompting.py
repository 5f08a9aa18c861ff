"""api/prompting.py: the prompt stage stops when nobody wants its result any more."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import anyio
import pytest
from cerebrum.api import prompting
from cerebrum.core.documents import Document, Documents, Placement, Ticket
from cerebrum.core.errors import SupersededError
from cerebrum.core.registry import ModelSpec
from cerebrum.retrieval import PipelineCancelled, PromptRequest
from starlette.exceptions import HTTPException

pytestmark = pytest.mark.anyio

LARGE = PromptRequest("x" * 40_000)  # large enough to be built in a worker thread
SPEC = ModelSpec(alias="m", model="m", backends=("http://backend",), context_size=1 << 20)


class EndlessBuild:
    """A pipeline that stops only when its deadline is cancelled."""

    def __init__(self) -> None:
        self.started, self.stopped = threading.Event(), threading.Event()
        self.calls = 0

    def __call__(self, prompt, profile, *, cache, deadline):
        self.calls += 1
        self.started.set()
        for _ in range(10_000):
            try:
                deadline.check()
            except PipelineCancelled:
                self.stopped.set()
                raise
            time.sleep(0.001)
        raise AssertionError("the build was never stopped")


def services():
    return SimpleNamespace(settings=SimpleNamespace(pipeline_timeout=600), pipeline_cache=None)


async def test_a_client_that_leaves_stops_the_worker_building_its_prompt(monkeypatch):
    build = EndlessBuild()

    class Leaving:  # the request of a client that hangs up once the work has started
        async def receive(self):
            await anyio.to_thread.run_sync(build.started.wait)
            return {"type": "http.disconnect"}

    monkeypatch.setattr(prompting, "build_prompt", build)
    ticket = Ticket(None)
    with pytest.raises(HTTPException) as caught:
        await prompting._assemble(services(), Leaving(), SPEC, LARGE, ticket)
    assert caught.value.status_code == 499
    assert await anyio.to_thread.run_sync(build.stopped.wait, 5)


def documents() -> tuple[Documents, Document]:
    return Documents(Placement(1)), Document("doc-1", "scope")


async def test_a_newer_request_of_the_document_stops_the_worker_building_the_older_prompt(
    monkeypatch,
):
    build = EndlessBuild()
    monkeypatch.setattr(prompting, "build_prompt", build)
    table, document = documents()
    older = table.enter(document, exclusive=True)

    async def newer_arrives():
        await anyio.to_thread.run_sync(build.started.wait)
        table.enter(document, exclusive=True)

    async with anyio.create_task_group() as group:
        group.start_soon(newer_arrives)
        with pytest.raises(SupersededError):
            await prompting._assemble(services(), None, SPEC, LARGE, older)
    assert await anyio.to_thread.run_sync(build.stopped.wait, 5)


async def test_a_request_superseded_before_its_prompt_stage_builds_nothing(monkeypatch):
    build = EndlessBuild()
    monkeypatch.setattr(prompting, "build_prompt", build)
    table, document = documents()
    older = table.enter(document, exclusive=True)
    table.enter(document, exclusive=True)
    with pytest.raises(SupersededError):
        await prompting._assemble(services(), None, SPEC, PromptRequest("def f"), older)
    assert build.calls == 0
