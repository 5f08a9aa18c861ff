#!/usr/bin/env python3
"""Build llama-server on this machine, the way roles/llama_cpp builds it on a VPS, with the
role's own cmake arguments and build key (harness/llama_build.py says how).

Prints the binary's path on stdout (progress goes to stderr).
Usage: ``python -m tools.build_llama_server``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as tools/build_llama_server.py: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.llama_build import build


def main() -> int:
    print(build())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
