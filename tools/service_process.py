"""Moved to harness/service.py."""

from harness.service import ServiceProcess  # re-exported: moved to harness

__all__ = ["ServiceProcess"]
