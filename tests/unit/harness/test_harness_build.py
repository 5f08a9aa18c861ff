"""The local llama-server build takes its cmake arguments and cache key from the role."""

from __future__ import annotations

from pathlib import Path

from harness import role
from harness.llama_build import binary_path, build_settings


def test_the_build_uses_the_roles_flags_and_version_stamp():
    defaults = role.defaults("llama_cpp")
    settings = build_settings(Path("/tmp/src-root"), ccache=False)
    args = settings["__llama_cpp_cmake_args"]
    assert args[: len(defaults["llama_cpp_cmake_flags"])] == defaults["llama_cpp_cmake_flags"]
    assert f"-DLLAMA_BUILD_NUMBER={defaults['llama_cpp_build_number']}" in args
    assert f"-DLLAMA_BUILD_COMMIT={defaults['llama_cpp_build_commit']}" in args
    assert settings["__llama_cpp_build_dir"] == (
        f"/tmp/src-root/llama.cpp-{defaults['llama_cpp_version']}/build"
    )


def test_the_cache_key_is_the_roles_build_id_and_follows_the_flags():
    release = role.defaults("llama_cpp")["llama_cpp_version"]
    key = build_settings(Path("/tmp/a"), ccache=False)["__llama_cpp_build_id"]
    assert key.startswith(f"{release}-")
    assert binary_path(key).parent.name == key
    other = role.render("llama_cpp", ["__llama_cpp_build_id"], llama_cpp_cmake_flags=["-DX=1"])
    assert other["__llama_cpp_build_id"] != key


def test_ccache_settings_come_from_the_role_only_when_ccache_is_used():
    with_ccache = build_settings(Path("/tmp/b"), ccache=True)["__llama_cpp_build_env"]
    assert with_ccache["CCACHE_COMPILERCHECK"] == "content"
    assert with_ccache["CCACHE_BASEDIR"].startswith("/tmp/b/llama.cpp-")
    assert build_settings(Path("/tmp/b"), ccache=False)["__llama_cpp_build_env"] == {}
