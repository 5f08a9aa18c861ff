"""Moved to harness/ (llama_server, ports, paths, llama_build, assets)."""

from harness.assets import link_models  # re-exported: moved to harness
from harness.llama_build import build as build_binary  # re-exported: moved to harness
from harness.llama_server import LlamaServer  # re-exported: moved to harness
from harness.paths import CACHE, ROOT  # re-exported: moved to harness
from harness.ports import free_port  # re-exported: moved to harness

__all__ = ["CACHE", "ROOT", "LlamaServer", "build_binary", "free_port", "link_models"]
