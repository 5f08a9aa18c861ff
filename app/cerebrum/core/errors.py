"""What can go wrong on the way to a backend, as exceptions the API layer turns into answers.

Who is to blame for a backend failure is said here, once, by ``BackendError.blame``:

- ``Blame.BACKEND``: the backend itself failed (unreachable, refused the connection or the
  orchestrator's key, answered 429/502/503/504 or a 5xx that is not llama-server's own error
  answer). The circuit breaker counts it and the request may be retried elsewhere.
- ``Blame.REQUEST``: this request caused it (the backend refused its parameters with a 4xx,
  its answer outgrew CEREBRUM_MAX_ANSWER_BYTES). It answers that request alone: never
  counted by the breaker, never retried.
- ``Blame.UNKNOWN``: either could be true (llama-server's own 500 error answer, an answer
  too large or malformed, a stream that broke off, no first token in time). The router
  settles it with the backend's ``/health`` (``core/router.py``) and sets ``blame`` on the
  exception before anything counts it.

``message`` is what clients see: it names a backend by its name (``backend 2``), never by its
URL, and carries no key. ``internal`` is for the log only (the URL, the transport's words).
"""

from __future__ import annotations

from enum import StrEnum


class Blame(StrEnum):
    BACKEND = "backend"
    REQUEST = "request"
    UNKNOWN = "unknown"


class CerebrumError(Exception):
    """Base class; ``kind`` is the machine-readable error type clients see."""

    kind = "internal_error"

    def __init__(self, message: str, *, internal: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.internal = internal  # for the log only: may name URLs


class BackendError(CerebrumError):
    """A failure on the way to (or from) one backend; ``blame`` says whose (see the module)."""

    blame = Blame.BACKEND

    @property
    def charged_to_backend(self) -> bool:
        """Whether the breaker counts it and a retry may follow."""
        return self.blame is Blame.BACKEND


class UnknownModelError(CerebrumError):
    kind = "unknown_model"

    def __init__(self, alias: str, known: list[str]) -> None:
        super().__init__(f"unknown model {alias!r}; known models: {', '.join(known)}")
        self.alias = alias
        self.known = known


class NotFimModelError(CerebrumError):
    """Fill in the middle asked of a configured model that has no FIM tokens."""

    kind = "not_a_fim_model"

    def __init__(self, alias: str, fim: list[str]) -> None:
        super().__init__(
            f"model {alias!r} has no FIM tokens, so it cannot fill in the middle; "
            f"FIM models: {', '.join(fim) or 'none'}"
        )


class OverloadedError(CerebrumError):
    """Every place in flight and in the queue is taken (load shedding)."""

    kind = "overloaded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendUnavailableError(BackendError):
    """No backend could take the request (circuits open, connection refused, 5xx)."""

    kind = "backend_unavailable"

    def __init__(self, message: str, retry_after: int = 1, *, internal: str = "") -> None:
        super().__init__(message, internal=internal)
        self.retry_after = retry_after


class CircuitOpenError(BackendUnavailableError):
    """Every backend for the model has its circuit open: fail fast, retry after the cool-down."""

    kind = "circuit_open"

    @property
    def charged_to_backend(self) -> bool:
        return False  # the breakers' own verdict, not a new failure


class BackendAuthError(BackendError):
    """The backend refused the orchestrator's key (CEREBRUM_API_KEY)."""

    kind = "backend_auth_error"


class BackendRejectedError(BackendError):
    """The backend answered 4xx for another reason: the request's fault (its message, which
    names the parameter, is kept, shortened)."""

    kind = "backend_error"
    blame = Blame.REQUEST

    def __init__(self, message: str, status: int, *, internal: str = "") -> None:
        super().__init__(message, internal=internal)
        self.status = status


class SupersededError(CerebrumError):
    """A newer request of the same session arrived: this one stopped (latest wins)."""

    kind = "superseded"

    def __init__(self, message: str = "a newer request of the same session arrived") -> None:
        super().__init__(message)


class BackendTimeoutError(BackendError):
    """No first token, or silence mid-stream, for longer than the timeout."""

    kind = "backend_timeout"
    blame = Blame.UNKNOWN


class BackendProtocolError(BackendError):
    """The backend's answer could not be understood, or it broke off mid-stream."""

    kind = "backend_error"
    blame = Blame.UNKNOWN


class BackendServerError(BackendError):
    """llama-server's own error answer with a 500 (``server_error``): its request handling
    failed, which a request's parameters can cause as well as the backend."""

    kind = "backend_error"
    blame = Blame.UNKNOWN


class AnswerTooLargeError(BackendError):
    """One answer outgrew CEREBRUM_MAX_ANSWER_BYTES: the request asked for that much."""

    kind = "answer_too_large"
    blame = Blame.REQUEST
