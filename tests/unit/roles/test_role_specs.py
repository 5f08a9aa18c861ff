"""Every role documents each public variable twice: defaults/main.yml and
meta/argument_specs.yml. The two must list the same variables with the same defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[3] / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_the_defaults(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), {
        "not in argument_specs": sorted(set(defaults) - set(options)),
        "not in defaults": sorted(set(options) - set(defaults)),
    }
    differ = {
        name: (options[name]["default"], value)
        for name, value in defaults.items()
        if "default" in options[name] and options[name]["default"] != value
        and not (isinstance(value, str) and "{{" in value)  # templated: documented in words
    }  # fmt: skip
    assert not differ, differ


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_variable_has_the_role_prefix(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    assert all(name.startswith(f"{role.name}_") for name in defaults), sorted(defaults)
