"""Every role documents each public variable twice: defaults/main.yml and
meta/argument_specs.yml. The two must list the same variables with the same defaults; a
variable an entry point requires has no default. The internal role `_common` documents
each of its entry points (`tasks_from`) the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[3] / "roles").iterdir() if p.is_dir())


def options(role: Path) -> dict[str, dict[str, Any]]:
    """The options of every entry point of ROLE, by name (the same name means one variable)."""
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    merged: dict[str, dict[str, Any]] = {}
    for entry in specs.values():
        for name, option in (entry.get("options") or {}).items():
            shape = {k: v for k, v in option.items() if k != "description"}
            seen = {k: v for k, v in merged.get(name, option).items() if k != "description"}
            assert seen == shape, f"{name}: two entry points give it different types or defaults"
            merged[name] = option
    return merged


def defaults(role: Path) -> dict[str, Any]:
    return yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_the_defaults(role: Path) -> None:
    declared, values = options(role), defaults(role)
    optional = {name for name, option in declared.items() if not option.get("required")}
    assert set(values) == optional, {
        "not in argument_specs (or required there)": sorted(set(values) - optional),
        "not in defaults": sorted(optional - set(values)),
    }
    differ = {
        name: (declared[name]["default"], value)
        for name, value in values.items()
        if "default" in declared[name] and declared[name]["default"] != value
    }
    assert not differ, differ


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_variable_has_the_role_prefix(role: Path) -> None:
    assert all(name.startswith(f"{role.name}_") for name in options(role)), sorted(options(role))


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_no_role_reaches_out_of_its_directory(role: Path) -> None:
    """Roles share through Ansible (the internal role _common), not by path arithmetic."""
    reaching = [
        str(path.relative_to(role))
        for path in role.rglob("*")
        if path.is_file() and "role_path" in path.read_text()
    ]
    assert not reaching, reaching
