"""How soon a superseded request stops building its prompt (issue 23, item 7).

    .venv/bin/python -m bench.supersede [--runs 3] [--mb 4]

The real prompt stage (``api.prompting.build`` with the app's services and the real
pipeline) builds a prompt from ``--mb`` MB of adversarial context (harness.adversarial: the
inputs that cost the pipeline most per byte), first to the end (the reference), then
``--runs`` times superseded by a newer request of the same session 50 ms in. Printed side by
side: wall time of the whole build; for the superseded ones, the time from the newer request
to the older one's SupersededError, and the process CPU spent from the supersede until the
worker thread is idle again (what the superseded request still costs the CM4). No backend is
asked: the context is sized so that nothing is left out for the budget.
"""

from __future__ import annotations

import argparse
import resource
import time

import anyio
from cerebrum.api import prompting
from cerebrum.api.services import Services
from cerebrum.core.documents import Origin, Text, Ticket
from cerebrum.core.errors import SupersededError
from cerebrum.retrieval import PromptRequest, Snippet
from cerebrum.settings import Settings

from harness.adversarial import GENERATORS

SUPERSEDE_AFTER = 0.05


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _services() -> Services:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        backends=["http://127.0.0.1:9"],
        models=[{"alias": "big", "model": "big", "context_size": 1_048_576}],
        pipeline_timeout=60,
        pipeline_cache_mb=0,
    )
    return Services.build(settings)


def _request(megabytes: float) -> PromptRequest:
    size = int(megabytes * 1_000_000)
    names = sorted(GENERATORS)
    share = size // len(names)
    context = tuple(Snippet(GENERATORS[name](share), f"{name}.py") for name in names)
    return PromptRequest("def f():\n    return helper(", context=context, max_tokens=16)


async def main(runs: int, megabytes: float) -> None:
    svc = _services()
    spec = svc.registry.resolve(None)
    prompt = _request(megabytes)
    document = svc.documents.recognise(Origin("bench", "complete", "bench"), spec.alias, Text())

    started = time.perf_counter()
    cpu = _cpu()
    await prompting.build(svc, None, spec, prompt, None, Ticket(None))
    whole = (time.perf_counter() - started, _cpu() - cpu)
    print(f"context {megabytes:g} MB adversarial, {len(prompt.context)} files")
    print(f"{'':24}{'wall s':>10}{'stop ms':>10}{'CPU after s':>13}")
    print(f"{'built to the end':24}{whole[0]:>10.3f}{'-':>10}{whole[1]:>13.3f}")
    for run in range(runs):
        older = svc.documents.enter(document, exclusive=True)
        stopped: dict[str, float] = {}

        async def newer(stopped: dict[str, float] = stopped) -> None:
            await anyio.sleep(SUPERSEDE_AFTER)
            stopped["cpu"], stopped["at"] = _cpu(), time.perf_counter()
            svc.documents.enter(document, exclusive=True)

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            group.start_soon(newer)
            try:
                await prompting.build(svc, None, spec, prompt, None, older)
            except SupersededError:
                raised = time.perf_counter()
            else:
                raise SystemExit("the superseded build ran to the end")
        await anyio.sleep(max(1.0, 2 * whole[0]))  # the whole build would have ended by now
        after = _cpu() - stopped["cpu"]
        wall = raised - started
        stop_ms = (raised - stopped["at"]) * 1000
        print(f"{f'superseded at 50 ms #{run + 1}':24}{wall:>10.3f}{stop_ms:>10.1f}{after:>13.3f}")
        svc.documents.leave(older)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=float, default=4.0)
    args = parser.parse_args()
    anyio.run(main, args.runs, args.mb)
