"""core/clients.py: who is calling, by name, with its own limits."""

from __future__ import annotations

from cerebrum.core.clients import LOOPBACK, Client, Limits


def test_a_client_without_limits_is_unlimited_and_not_admin():
    client = Client("alice")
    assert client.limits == Limits(None, None)
    assert not client.admin


def test_keyless_loopback_is_the_operator():
    assert LOOPBACK.name == "loopback"
    assert LOOPBACK.admin


def test_a_client_holds_no_key():
    assert set(Client.__slots__) == {"name", "limits", "admin"}
