"""The seed README's curl examples, exactly as written there, and what each must show.

Used twice: against an orchestrator started by the integration tests, and on the deployed
CM4 (tests/infra). Only the host part (`localhost:7000` in the seed) is a parameter.
"""

from __future__ import annotations

import json
from typing import Any

from cerebrum.sse_reader import EventParser


def seed_curl_commands(host: str) -> list[str]:
    """The seed's commands, in its order, for an orchestrator at `host` (e.g. localhost:7000)."""
    return [
        f"curl -s http://{host}/health",
        f"""curl -X POST http://{host}/v1/complete \\
  -H "Content-Type: application/json" \\
  -d '{{
    "prompt": "def fibonacci(n):",
    "language": "python",
    "max_tokens": 256
  }}'""",
        f"""curl -N -X POST http://{host}/v1/complete/stream \\
  -H "Content-Type: application/json" \\
  -d '{{
    "prompt": "def hello():",
    "language": "python",
    "max_tokens": 128
  }}'""",
        f"curl http://{host}/v1/models",
        f"curl http://{host}/v1/stats",
        f"curl -s http://{host}/v1/vps/health",
    ]


def sse_data(stream: str | bytes) -> list[Any]:
    """The JSON payloads (or "[DONE]") of the events in a whole SSE stream."""
    raw = stream.encode() if isinstance(stream, str) else stream
    return ["[DONE]" if data == b"[DONE]" else json.loads(data) for data in EventParser().feed(raw)]


def check_seed_outputs(outputs: list[str]) -> None:
    """Assert that each command's output (stdout, same order) is what the seed promises."""
    assert json.loads(outputs[0])["status"] == "ok", outputs[0]
    assert json.loads(outputs[1])["completion"], outputs[1]
    events = sse_data(outputs[2])
    assert events, outputs[2]
    assert events[0]["total_tokens"] == 1, outputs[2]
    assert events[-1]["done"] is True, outputs[2]
    assert events[-1].get("error") is None, outputs[2]
    assert json.loads(outputs[3])["data"], outputs[3]
    assert json.loads(outputs[4])["requests"]["total"] >= 2, outputs[4]
    assert any(b["status"] == "ok" for b in json.loads(outputs[5])["backends"]), outputs[5]
