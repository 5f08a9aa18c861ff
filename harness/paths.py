"""Where things are: the repository, and the cache of downloaded and built assets.

The cache is ``$CEREBRUM_CACHE`` (the Makefile exports it), else ``~/.cache/cerebrum``:
the same rule tests/lab/lab.sh and inventory/lab follow.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CEREBRUM_CACHE") or Path.home() / ".cache" / "cerebrum")
