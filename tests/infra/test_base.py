"""Every Cerebrum host as roles/common leaves it: base packages, time sync, updates."""

from __future__ import annotations

from typing import Any

from conftest import role_var

testinfra_hosts = ["ansible://cm4", "ansible://vps"]


def test_base_packages_are_installed(host: Any) -> None:
    packages = role_var(host, "common", "common_packages")
    missing = [name for name in packages if not host.package(name).is_installed]
    assert not missing, f"not installed: {missing}"


def test_timesyncd_is_enabled(host: Any) -> None:
    if not role_var(host, "common", "common_timesync_enabled"):
        return
    assert host.service("systemd-timesyncd").is_enabled


def test_unattended_upgrades_follow_the_inventory(host: Any) -> None:
    wanted = "1" if role_var(host, "common", "common_unattended_upgrades") else "0"
    config = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert f'APT::Periodic::Unattended-Upgrade "{wanted}";' in config, config
