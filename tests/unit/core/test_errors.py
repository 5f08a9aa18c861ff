"""core/errors.py: whose fault each failure is (what the breaker counts and the router retries)."""

from __future__ import annotations

import pytest
from cerebrum.core.errors import (
    AnswerTooLargeError,
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BackendRejectedError,
    BackendServerError,
    BackendTimeoutError,
    BackendUnavailableError,
    Blame,
    CircuitOpenError,
    SupersededError,
)


@pytest.mark.parametrize(
    "error",
    [BackendUnavailableError("backend 1 unreachable"), BackendAuthError("backend 1: key")],
)
def test_the_backends_own_failures_are_charged_to_it(error: BackendError):
    assert error.blame is Blame.BACKEND
    assert error.charged_to_backend


@pytest.mark.parametrize(
    "error",
    [BackendRejectedError("n_probs: too many", 400), AnswerTooLargeError("answer too large")],
)
def test_failures_the_request_caused_are_not_charged_to_the_backend(error: BackendError):
    assert error.blame is Blame.REQUEST
    assert not error.charged_to_backend


@pytest.mark.parametrize(
    "error",
    [BackendTimeoutError("t"), BackendProtocolError("p"), BackendServerError("s")],
)
def test_ambiguous_failures_wait_for_the_health_check_before_they_count(error: BackendError):
    assert error.blame is Blame.UNKNOWN
    assert not error.charged_to_backend  # the router settles them with the backend's /health


def test_an_open_circuit_is_the_breakers_verdict_not_a_new_failure():
    assert not CircuitOpenError("every circuit open", retry_after=3).charged_to_backend


def test_the_internal_detail_is_kept_apart_from_the_clients_message():
    error = BackendUnavailableError("backend 2 unreachable", internal="http://10.0.0.2:9000")
    assert "http" not in error.message
    assert error.internal == "http://10.0.0.2:9000"


def test_superseded_needs_no_message_of_its_own():
    assert SupersededError().kind == "superseded"
    assert SupersededError().message
