"""Schemathesis against the running orchestrator: any request, valid or not, gets a documented
answer, bad input a clear 4xx, and nothing a 5xx.

The requests are generated from the document the orchestrator serves (GET /openapi.json; a
dedicated instance in front of the real llama-server): schemathesis's coverage phase (each
field at and past its bounds, wrong types, missing and unknown fields, unexpected methods)
and its fuzzing phase, valid and invalid bodies. Every response must pass every check
schemathesis runs by default: no 5xx, a documented status code, content type, headers and
body (each event of a stream too), a valid request accepted, an invalid one refused with a
4xx. The same requests without the client key must all get 401 (but /health, which is open).

Two expectations are widened, each for a documented reason: a valid request may get the 400
of an unknown model or of a prompt too large for the model (the document cannot list the
configured aliases or context sizes; every such 400 is checked to be one of those two), and
an invalid one may be refused with 413 (too large a body), which schemathesis does not count
as a refusal by default.

A valid request reaches llama-server, so the ``map_case`` hook below caps its max_tokens at
a few tokens (only when the orchestrator's own request model accepts the body: a body it
refuses never reaches a backend and is sent as generated). The seed is fixed, so each run
sends the same requests; ``pytest -s`` prints the cases and the status codes per operation.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from cerebrum.api import schemas
from pydantic import BaseModel, ValidationError
from schemathesis.engine import Status, StopReason, events, from_schema

from harness.orchestrator import CLIENT_KEY, Orchestrator

SEED = 20_261_124
MAX_EXAMPLES = 150  # fuzzing cases per operation and run; the coverage phase adds its own
MIN_CASES = 1_000  # with the key; the run without one comes on top
TOKENS = 4  # max_tokens of a valid generated request
KEY = {"Authorization": f"Bearer {CLIENT_KEY}"}

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/v1/complete": schemas.CompleteRequest,
    "/v1/complete/stream": schemas.CompleteRequest,
    "/v1/completions": schemas.OpenAICompletionRequest,
    "/v1/chat/completions": schemas.OpenAIChatRequest,
    "/infill": schemas.InfillRequest,
    "/completion": schemas.LlamaCompletionRequest,
}
LENGTHS = ("max_tokens", "max_completion_tokens", "n_predict")  # n_predict: llama.cpp's routes
PUBLIC = {"GET /health"}
# What a valid request may be refused with: the document cannot know the configured models.
# ... nor the models' vocabularies and FIM tokens (llama.cpp's routes pass on the backend's
# refusal of a prompt, e.g. token ids it does not have).
VALID_BUT_REFUSED = {
    "unknown_model",
    "prompt_too_large",
    "not_a_fim_model",
    "invalid_request_error",
}
# How an invalid request may be refused: schemathesis's default list with 413 (a body over
# CEREBRUM_MAX_BODY_BYTES) added and 5xx left out (never a right answer here).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

# Checks that judge whether a request is well formed or authorised: not for the run without
# a key, which is refused (401) before its body or method is looked at.
AUTH_BLIND_CHECKS = (
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
)


def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """Cap max_tokens of a body the orchestrator accepts, keeping its JSON type (4.0 stays a
    float), so that a valid request costs the backend a few tokens, not up to 4096."""
    model = REQUEST_MODELS.get(case.operation.path)
    if model is None or not isinstance(case.body, dict):
        return case
    try:
        model.model_validate_json(json.dumps(case.body))
    except (ValidationError, TypeError, ValueError):
        return case  # refused before any backend call: sent as generated
    body = dict(case.body)
    for name in LENGTHS:
        value = body.get(name)
        if isinstance(value, int | float) and (value > TOKENS or value < 0):
            body[name] = type(value)(TOKENS)
    if all(body.get(name) is None for name in LENGTHS):
        body["n_predict" if "/" not in case.operation.path[1:] else "max_tokens"] = TOKENS
    case.body = body  # assigned, not edited in place: schemathesis re-checks the case
    return case


@dataclass
class Run:
    """What one schemathesis run sent and what it got back."""

    statuses: dict[str, collections.Counter[int]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    problems: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)  # what the document lists
    modes: collections.Counter[str] = field(default_factory=collections.Counter)
    error_types: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0

    @property
    def cases(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def histogram(self) -> collections.Counter[int]:
        return sum(self.statuses.values(), collections.Counter())

    def report(self, title: str) -> str:
        lines = [f"{title}: {self.cases} cases in {self.seconds:.1f} s"]
        for label, counts in sorted(self.statuses.items()):
            histogram = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
            lines.append(f"  {label:<26} {sum(counts.values()):>5}  {histogram}")
        total = ", ".join(f"{status}: {n}" for status, n in sorted(self.histogram().items()))
        lines.append(f"  {'all':<26} {self.cases:>5}  {total}")
        lines.append("  generated as: " + _counts(self.modes))
        lines.append("  4xx error types: " + _counts(self.error_types))
        return "\n".join(lines)


def _counts(counter: collections.Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.most_common())


def run_schemathesis(
    orchestrator: Orchestrator,
    headers: dict[str, str],
    checks: dict[str, Any],
    on_response: Callable[[str, schemathesis.Case, schemathesis.Response], Iterator[str]],
) -> Run:
    """Every phase but the stateful one (the API has no links) against ``orchestrator``,
    each request sent with ``headers``; ``on_response`` adds problems of its own."""
    document = httpx.get(f"{orchestrator.url}/openapi.json", headers=KEY, timeout=10)
    assert document.status_code == 200, document.text
    config = schemathesis.Config.from_dict(
        {
            "base-url": orchestrator.url,
            "headers": headers,
            "seed": SEED,
            "request-timeout": 60,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": checks,
            # Failure reports hide the key, not every field named like *token* (max_tokens).
            "output": {
                "sanitization": {
                    "keys-to-sanitize": ["authorization"],
                    "sensitive-markers": ["authorization"],
                }
            },
        }
    )
    schema = schemathesis.openapi.from_dict(document.json(), config=config)
    schema.hook(map_case)
    run = Run(
        operations={
            f"{method.upper()} {path}"
            for path, item in document.json()["paths"].items()
            for method in item
        }
    )
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _collect(run, event, on_response)
        elif isinstance(event, events.NonFatalError):
            run.problems.append(f"{event.label}: error: {event.info}")
        elif isinstance(event, events.FatalError):
            run.problems.append(f"fatal error: {event.exception!r}")
        elif isinstance(event, events.EngineFinished) and event.stop_reason != StopReason.COMPLETED:
            run.problems.append(f"stopped early: {event.stop_reason}")
    run.seconds = time.monotonic() - started
    return run


def _collect(
    run: Run,
    event: events.ScenarioFinished,
    on_response: Callable[[str, schemathesis.Case, schemathesis.Response], Iterator[str]],
) -> None:
    recorder = event.recorder
    for case_id, interaction in recorder.interactions.items():
        case = recorder.cases[case_id].value
        if interaction.response is None:
            run.problems.append(f"{recorder.label}: no response (network error)")
            continue
        run.statuses[recorder.label][interaction.response.status_code] += 1
        run.modes["valid" if _is_valid(case) else "invalid"] += 1
        if 400 <= interaction.response.status_code < 500:
            run.error_types[_error(interaction.response).get("type", "(none)")] += 1
        run.problems.extend(on_response(recorder.label, case, interaction.response))
    for checks in recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                run.problems.append(
                    f"{recorder.label}: {check.name}: {failure.title}\n{failure.message}\n"
                    f"{check.failure_info.code_sample}"
                )


def _error(response: schemathesis.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _is_valid(case: schemathesis.Case) -> bool:
    """Generated to match the document (positive) rather than to break it (negative)."""
    return case.meta is not None and case.meta.generation.mode.is_positive


def _with_key(label: str, case: schemathesis.Case, response: schemathesis.Response):
    """A 4xx names what is wrong (JSON error with type and message); a valid request is only
    refused for an unknown model or a prompt too large for the model."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    error = _error(response)
    if not (error.get("type") and error.get("message")):
        yield f"{label}: {status} without a JSON error naming it: {response.content[:200]!r}"
    if status in (401, 403):
        yield f"{label}: {status} although the client key was sent"
    if _is_valid(case) and status == 400 and error.get("type") not in VALID_BUT_REFUSED:
        yield f"{label}: valid request refused with {error}"


def _without_key(label: str, case: schemathesis.Case, response: schemathesis.Response):
    """Without the key, everything but /health is 401 (and never echoes a key back)."""
    sent = str(response.request.headers.get("Authorization", ""))
    if CLIENT_KEY in sent:
        yield f"{label}: the client key was sent"
    if label in PUBLIC:
        return
    if response.status_code != 401 or _error(response).get("type") != "unauthorized":
        yield f"{label}: {response.status_code} without a key: {response.content[:200]!r}"
    if response.headers.get("www-authenticate") != ["Bearer"]:
        yield f"{label}: 401 without WWW-Authenticate: Bearer"
    credentials = sent.partition(" ")[2].strip()
    if credentials and credentials.encode() in response.content:
        yield f"{label}: the offered key is echoed in the body"


def test_generated_requests_get_documented_answers_and_never_a_5xx(start_orchestrator):
    checks = {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "400"]},
        "negative_data_rejection": {"expected-statuses": REFUSALS},
    }
    admin = [{"name": "fuzz", "key": CLIENT_KEY, "admin": True}]  # every operation is its
    run = run_schemathesis(
        start_orchestrator(client_keys=json.dumps(admin)), KEY, checks, _with_key
    )
    print("\n" + run.report("schemathesis with the client key"))
    assert not run.problems, "\n\n".join(run.problems[:20]) + "\n\n" + run.report("so far")
    assert run.cases >= MIN_CASES, run.report("too few cases")
    assert not [status for status in run.histogram() if status >= 500]
    assert set(run.statuses) == run.operations  # every documented operation was exercised


def test_generated_requests_without_a_key_get_401(start_orchestrator):
    checks: dict[str, Any] = {name: {"enabled": False} for name in AUTH_BLIND_CHECKS}
    run = run_schemathesis(start_orchestrator(), {}, checks, _without_key)
    print("\n" + run.report("schemathesis without a key"))
    assert not run.problems, "\n\n".join(run.problems[:20]) + "\n\n" + run.report("so far")
    protected = [label for label in run.statuses if label not in PUBLIC]
    assert protected
    assert all(set(run.statuses[label]) == {401} for label in protected)
