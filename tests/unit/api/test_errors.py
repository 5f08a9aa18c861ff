"""api/errors.py: every backend failure has its status; none is an internal error."""

from __future__ import annotations

import pytest
from cerebrum.api.errors import status_of, stream_failure
from cerebrum.core import errors


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


@pytest.mark.parametrize("cls", _subclasses(errors.BackendError), ids=lambda cls: cls.__name__)
def test_every_backend_failure_has_a_status_other_than_500(cls: type) -> None:
    exc = cls("backend 1 failed", 400) if cls is errors.BackendRejectedError else cls("x")
    assert status_of(exc) in (502, 503, 504)
    assert stream_failure(exc).status == status_of(exc)


def test_an_answer_too_large_is_a_502_of_its_own_type() -> None:
    failure = stream_failure(errors.AnswerTooLargeError("grew beyond 1 bytes"))
    assert (failure.status, failure.kind) == (502, "answer_too_large")
