"""Fixtures of the roles' tests."""

from __future__ import annotations

import pytest

from tests.unit.roles.playbook import ANSIBLE_PLAYBOOK


@pytest.fixture
def needs_ansible() -> None:
    """Skips a test that runs ansible-playbook when the venv has none."""
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip(f"no {ANSIBLE_PLAYBOOK} (make venv)")
