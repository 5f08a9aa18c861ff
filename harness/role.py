"""A role's variables, read from the role itself: its defaults as written, and any of its
variables rendered by Ansible's own templating, so that a value derived in the role
(vars/main.yml) has one definition, the role's."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from harness.paths import ROOT


def defaults(role: str) -> dict[str, Any]:
    """roles/ROLE/defaults/main.yml as written (Jinja left unrendered)."""
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT / "roles" / role / "defaults" / "main.yml").read_text()
    )
    return loaded


def render(role: str, names: Iterable[str], **overrides: Any) -> dict[str, Any]:
    """The variables `names` of ROLE as a play would see them: defaults, then vars, then
    `overrides` (the inventory's part), templated by ansible-core; plain Python values."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    loader = DataLoader()
    variables: dict[str, Any] = {}
    for kind in ("defaults", "vars"):
        path = ROOT / "roles" / role / kind / "main.yml"
        if path.exists():
            variables.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    variables.update(overrides)
    templar = Templar(loader=loader, variables=variables)
    rendered = {name: templar.template(trust_as_template(f"{{{{ {name} }}}}")) for name in names}
    plain: dict[str, Any] = json.loads(json.dumps(rendered))  # drop Ansible's tagged types
    return plain
