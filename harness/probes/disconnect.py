"""Probe run ON an orchestrator host by the appliance's own venv python (httpx is there).

A client starts a streamed completion through the orchestrator, waits for its first token,
sees a backend slot busy with it, hangs up, then watches the backends' /slots until no slot
of the model is processing any more. Prints one JSON line:
{"busy_before": N, "freed_after": seconds or null, "tokens": N}.

    python disconnect.py ORCHESTRATOR_URL ENV_FILE BACKEND_MODEL
"""

from __future__ import annotations

import json
import sys
import time

import httpx
from cerebrum.sse_reader import iter_events
from probe_common import read_env

POLL = 0.02  # seconds between two looks at the slots
GIVE_UP = 10.0  # seconds: report null if a slot is still busy then


def busy_slots(client: httpx.Client, backends: list[str], key: str, model: str) -> int:
    busy = 0
    for backend in backends:
        reply = client.get(
            f"{backend.rstrip('/')}/slots",
            params={"model": model},
            headers={"Authorization": f"Bearer {key}"},
        )
        reply.raise_for_status()
        busy += sum(1 for slot in reply.json() if slot.get("is_processing"))
    return busy


def main() -> None:
    url, env_file, model = sys.argv[1:4]
    env = read_env(env_file)
    backends = json.loads(env["CEREBRUM_BACKENDS"])
    key = env["CEREBRUM_API_KEY"]
    body = {"prompt": "Once upon a time, in a land far away,", "max_tokens": 1024}
    tokens = 0
    with httpx.Client(timeout=30) as watcher:
        stream_client = httpx.Client(timeout=120)
        with stream_client.stream("POST", f"{url}/v1/complete/stream", json=body) as response:
            response.raise_for_status()
            # Held until the hang-up below: a dropped event iterator would close the
            # connection whenever the garbage collector finalizes it.
            events = iter_events(response)
            for data in events:
                if "token" in json.loads(data):
                    tokens += 1
                    if tokens >= 2:
                        break
            busy_before = busy_slots(watcher, backends, key, model)
        stream_client.close()  # the client hangs up: its connection is closed here
        hung_up = time.monotonic()
        freed_after = None
        while time.monotonic() - hung_up < GIVE_UP:
            if busy_slots(watcher, backends, key, model) == 0:
                freed_after = round(time.monotonic() - hung_up, 3)
                break
            time.sleep(POLL)
    print(json.dumps({"busy_before": busy_before, "freed_after": freed_after, "tokens": tokens}))


if __name__ == "__main__":
    main()
