"""Runs a playbook with the repository's roles against this machine (connection local)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def run_playbook(tmp_path: Path, playbook: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Write PLAYBOOK into tmp_path and run it there with ARGS (inventory, extra vars)."""
    (tmp_path / "play.yml").write_text(playbook)
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), *args, str(tmp_path / "play.yml")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
