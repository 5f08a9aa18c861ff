"""The service never loads the terminal client or its libraries (its RSS must not grow)."""

from __future__ import annotations

import json
import subprocess
import sys

CLIENT_MODULES = ("cerebrum.repl", "prompt_toolkit", "pygments")


def test_the_orchestrator_app_loads_no_terminal_client_module():
    # As `cerebrum` serves: httpx's optional CLI (which would import pygments) is switched off.
    code = (
        "import sys, json\n"
        "sys.modules['httpx._main'] = None\n"
        "import cerebrum.__main__, cerebrum.api.main\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({CLIENT_MODULES!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == [], result.stdout
