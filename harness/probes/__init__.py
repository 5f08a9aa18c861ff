"""Run a probe (a script of this directory: appliance.py for bench/appliance.py,
disconnect.py and overload.py for tests/infra/test_faults.py) on a host over testinfra, with
a Python of the host's (the appliance's venv: httpx is there), and read the JSON line it
prints last.

The probe and probe_common.py travel as arguments of `python -c`: nothing is copied to the
host, and a probe imports `probe_common` as if it sat beside it.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# argv: LOADER, the text of probe_common.py, the probe's text, the probe's arguments.
LOADER = """\
import sys, types
common = types.ModuleType("probe_common")
exec(sys.argv[1], common.__dict__)
sys.modules["probe_common"] = common
source, sys.argv = sys.argv[2], ["probe", *sys.argv[3:]]
exec(compile(source, "probe", "exec"), {"__name__": "__main__"})
"""


class ProbeError(RuntimeError):
    """The probe exited with an error (its output is in the message)."""


def run_probe(host: Any, python: str, name: str, *args: str, timeout: int = 300) -> Any:
    """Run probe NAME (NAME.py here) on `host` with `python`, within `timeout` seconds."""
    texts = [(HERE / "probe_common.py").read_text(), (HERE / f"{name}.py").read_text()]
    result = host.run(
        f"timeout {timeout} {shlex.quote(python)} -c %s" + " %s" * (len(texts) + len(args)),
        LOADER,
        *texts,
        *args,
    )
    if result.rc != 0:
        raise ProbeError(f"probe {name} exited {result.rc}: {result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])
