"""llama-server built on this machine the way roles/llama_cpp builds it on a VPS.

The release, the cmake arguments, the build key and ccache's environment are the role's
own variables (`__llama_cpp_cmake_args`, `__llama_cpp_build_id`, `__llama_cpp_build_env`
in roles/llama_cpp/vars/main.yml), rendered by Ansible: one definition, so the integration
tests run the binary the role installs. The result is cached under
``CACHE/llama-server/<build id>/llama-server`` and reused while the key stays the same;
ccache, when installed, makes a rebuild cheap. Progress goes to stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from harness import role
from harness.assets import fetch_llama_src, llama_release, llama_src_archive
from harness.paths import CACHE

_BUILD_VARS = ("__llama_cpp_cmake_args", "__llama_cpp_build_id", "__llama_cpp_src_dir",
               "__llama_cpp_build_dir", "__llama_cpp_build_env")  # fmt: skip


def log(message: str) -> None:
    print(f"[build] {message}", file=sys.stderr, flush=True)


def build_settings(src_root: Path, ccache: bool) -> dict[str, object]:
    """The role's build variables for a build unpacked under `src_root` (ccache or not)."""
    return role.render(
        "llama_cpp",
        _BUILD_VARS,
        llama_cpp_src_archive=str(llama_src_archive(llama_release())),
        llama_cpp_src_root=str(src_root),
        llama_cpp_ccache_dir=str(CACHE / "ccache"),
        __llama_cpp_use_ccache=ccache,
    )


def binary_path(build_id: str) -> Path:
    return CACHE / "llama-server" / build_id / "llama-server"


def build() -> Path:
    """The path of llama-server for the role's release and flags, built when not cached."""
    ccache = shutil.which("ccache") is not None
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        settings = build_settings(Path(tmp), ccache)
        binary = binary_path(str(settings["__llama_cpp_build_id"]))
        if binary.exists():
            log(f"cached: {binary}")
            return binary
        archive = fetch_llama_src()
        args = [str(arg) for arg in settings["__llama_cpp_cmake_args"]]  # type: ignore[attr-defined]
        src, build_dir = (
            str(settings["__llama_cpp_src_dir"]),
            str(settings["__llama_cpp_build_dir"]),
        )
        env = {**os.environ, **settings["__llama_cpp_build_env"]}  # type: ignore[dict-item]
        launcher = (
            ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
            if ccache
            else []
        )
        started = time.monotonic()
        log(f"unpacking {archive.name}")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="tar")
        log(f"configuring: {' '.join(args)}")
        subprocess.run(
            ["cmake", "-S", src, "-B", build_dir, *args, *launcher],
            check=True, env=env, stdout=sys.stderr,
        )  # fmt: skip
        jobs = str(os.cpu_count() or 2)
        log(f"compiling llama-server with {jobs} jobs (6-8 min on 2 cores without ccache)")
        subprocess.run(
            ["cmake", "--build", build_dir, "--target", "llama-server", "-j", jobs],
            check=True, env=env, stdout=sys.stderr,
        )  # fmt: skip
        binary.parent.mkdir(parents=True, exist_ok=True)
        staged = binary.with_suffix(".partial")
        shutil.copy2(Path(build_dir) / "bin" / "llama-server", staged)
        os.replace(staged, binary)
    log(f"built in {time.monotonic() - started:.0f} s: {binary}")
    return binary
