#!/usr/bin/env python3
"""Build llama-server on this machine, the way roles/llama_cpp builds it on a VPS.

The release and cmake flags are read from roles/llama_cpp/defaults/main.yml, so the
integration tests run the same binary the role installs. The result is cached under
``$CEREBRUM_CACHE/llama-server/<release>-<hash of flags>/llama-server`` and reused
while release and flags stay the same; ccache, when installed, makes a rebuild cheap.
Prints the binary's path on stdout (progress goes to stderr).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CEREBRUM_CACHE", Path.home() / ".cache" / "cerebrum"))
DEFAULTS = ROOT / "roles" / "llama_cpp" / "defaults" / "main.yml"


def log(message: str) -> None:
    print(f"[build] {message}", file=sys.stderr, flush=True)


def cmake_flags(defaults: dict[str, object]) -> list[str]:
    flags = [str(flag) for flag in defaults["llama_cpp_cmake_flags"]]  # type: ignore[attr-defined]
    return [
        *flags,
        f"-DLLAMA_BUILD_NUMBER={defaults['llama_cpp_build_number']}",
        f"-DLLAMA_BUILD_COMMIT={defaults['llama_cpp_build_commit']}",
    ]


def main() -> int:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    release = str(defaults["llama_cpp_version"])
    flags = cmake_flags(defaults)
    key = hashlib.sha256("\n".join([release, *flags]).encode()).hexdigest()[:12]
    binary = CACHE / "llama-server" / f"{release}-{key}" / "llama-server"
    if binary.exists():
        log(f"cached: {binary}")
        print(binary)
        return 0

    archive = CACHE / "src" / f"llama.cpp-{release}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "fetch_assets.py"), "llama-src"],
            check=True,
            stdout=sys.stderr,
        )
    env = dict(os.environ)
    launcher: list[str] = []
    if shutil.which("ccache"):
        env.setdefault("CCACHE_DIR", str(CACHE / "ccache"))
        env.setdefault("CCACHE_COMPILERCHECK", "content")
        launcher = ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        log(f"unpacking {archive.name}")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="tar")
        src = Path(tmp) / f"llama.cpp-{release}"
        env["CCACHE_BASEDIR"] = str(src)  # relative paths: cache hits across directories
        log(f"configuring: {' '.join(flags)}")
        subprocess.run(
            ["cmake", "-S", str(src), "-B", str(src / "build"), *flags, *launcher],
            check=True,
            env=env,
            stdout=sys.stderr,
        )
        jobs = str(os.cpu_count() or 2)
        log(f"compiling llama-server with {jobs} jobs (6-8 min on 2 cores without ccache)")
        subprocess.run(
            ["cmake", "--build", str(src / "build"), "--target", "llama-server", "-j", jobs],
            check=True,
            env=env,
            stdout=sys.stderr,
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        staged = binary.with_suffix(".partial")
        shutil.copy2(src / "build" / "bin" / "llama-server", staged)
        os.replace(staged, binary)
    log(f"built in {time.monotonic() - started:.0f} s: {binary}")
    print(binary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
