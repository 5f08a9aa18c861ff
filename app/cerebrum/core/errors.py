"""What can go wrong on the way to a backend, as exceptions the API layer turns into answers."""

from __future__ import annotations


class CerebrumError(Exception):
    """Base class; ``kind`` is the machine-readable error type clients see."""

    kind = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class BackendUnavailableError(CerebrumError):
    """No backend could take the request (circuits open, connection refused, 5xx)."""

    kind = "backend_unavailable"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CircuitOpenError(BackendUnavailableError):
    """Every backend for the model has its circuit open: fail fast, retry after the cool-down."""

    kind = "circuit_open"


class BackendAuthError(CerebrumError):
    """The backend refused the orchestrator's key (CEREBRUM_API_KEY)."""

    kind = "backend_auth_error"


class BackendRejectedError(CerebrumError):
    """The backend answered 4xx for another reason (its message, sanitised, is kept)."""

    kind = "backend_error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class SupersededError(CerebrumError):
    """A newer request of the same session arrived: this one stopped (latest wins)."""

    kind = "superseded"

    def __init__(self, message: str = "a newer request of the same session arrived") -> None:
        super().__init__(message)


class BackendTimeoutError(CerebrumError):
    kind = "backend_timeout"


class BackendProtocolError(CerebrumError):
    """The backend's answer could not be understood, or it broke off mid-stream."""

    kind = "backend_error"
