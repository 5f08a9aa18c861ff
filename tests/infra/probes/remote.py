"""Moved to harness/probes/ (the probes and the code that runs them on a host)."""

from harness.probes import ProbeError, run_probe  # re-exported: moved to harness

__all__ = ["ProbeError", "run_probe"]
