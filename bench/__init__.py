"""Benchmarks: the orchestrator against the same llama-server reached directly.

See docs/benchmarks.md; run with `.venv/bin/python -m bench`.
"""
