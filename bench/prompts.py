"""The requests the benchmarks send, and the exact text they put in front of llama-server.

Context is real code: files of the running Python's standard library (sorted by name, cut
at a line boundary), so every machine with the same Python version sends the same bytes.
Each request carries a nonce in its first line (short prompts) or in its context's paths
(`# path: bench-<nonce>/textwrap.py` opens the assembled prompt), so llama-server's prompt
cache (`cache_prompt`, which the orchestrator always sets) cannot reuse an earlier
request's prefix on either path.

`backend_prompt` runs the orchestrator's own pipeline (`cerebrum.retrieval.build_prompt`)
on the same request, so a direct request sends llama-server the very text the orchestrator
sends; `direct_body` builds the JSON body with the orchestrator's own function.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cerebrum.core.generation import Generation
from cerebrum.core.llama_server import _request_body
from cerebrum.retrieval import ModelProfile, PromptPlan, PromptRequest, Snippet, build_prompt

from bench.stack import ALIAS, MODEL

SHORT_PROMPT = "def fibonacci(n):\n"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILE_LIMIT = 200_000  # the API's limit for one context item (schemas.MAX_PROMPT_CHARS)

# prompt size name -> bytes of context (in files of at most `per_file` bytes)
SIZES = {"short": 0, "2KB": 2048, "16KB": 16384}
PER_FILE = 4096
MIN_FILE = 512  # smaller pieces are skipped, so sizes are "about": within 512 bytes


@dataclass(frozen=True, slots=True)
class Case:
    """One request: its body for the orchestrator, and the direct body for llama-server."""

    name: str
    nonce: str
    request: PromptRequest
    plan: PromptPlan

    def orchestrator_body(self, temperature: float | None = None) -> bytes:
        body: dict[str, Any] = {
            "prompt": self.request.prompt,
            "language": self.request.language,
            "max_tokens": self.request.max_tokens,
            "model": ALIAS,
            "context": [{"path": s.path, "text": s.text} for s in self.request.context],
        }
        if temperature is not None:
            body["temperature"] = temperature
        return orjson.dumps(body)

    def direct_body(self, temperature: float | None = None) -> bytes:
        return direct_body(self.plan, self.request.max_tokens, temperature)


def direct_body(plan: PromptPlan, max_tokens: int, temperature: float | None = None) -> bytes:
    """The body the orchestrator sends to llama-server's /completion for this plan."""
    generation = Generation(
        model=MODEL, max_tokens=max_tokens, prompt=plan.prompt or "", temperature=temperature
    )
    _, body = _request_body(generation)
    return orjson.dumps(body)


def case(name: str, nonce: str, max_tokens: int, context_size: int) -> Case:
    """The request of size `name` (a key of SIZES) made unique by `nonce`."""
    size = SIZES[name]
    if size == 0:
        request = PromptRequest(
            f"# request {nonce}\n{SHORT_PROMPT}", "python", (), None, (), max_tokens
        )
    else:
        snippets = tuple(
            Snippet(text, f"bench-{nonce}/{path}") for path, text in stdlib_files(size, PER_FILE)
        )
        request = PromptRequest(SHORT_PROMPT, "python", snippets, None, (), max_tokens)
    plan = build_prompt(request, ModelProfile(context_size=context_size))
    return Case(name, nonce, request, plan)


def stdlib_files(total: int, per_file: int = FILE_LIMIT) -> list[tuple[str, str]]:
    """(name, text) of standard-library modules in name order, about `total` bytes in all:
    each file cut (at a line end) to at most `per_file` bytes and to what is left."""
    files: list[tuple[str, str]] = []
    left = total
    for path in sorted(STDLIB.glob("*.py")):
        if left < MIN_FILE:
            break
        text = _cut(path.read_text(encoding="utf-8", errors="replace"), min(per_file, left))
        if len(text) >= MIN_FILE:
            files.append((path.name, text))
            left -= len(text.encode())
    return files


def _cut(text: str, limit: int) -> str:
    """The longest run of whole lines of `text` within `limit` bytes (UTF-8)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    end = data.rfind(b"\n", 0, limit)
    return data[: end + 1].decode(errors="ignore") if end >= 0 else ""
