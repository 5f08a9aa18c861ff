"""Cerebrum: the CM4 orchestrator in front of llama.cpp's llama-server."""

__version__ = "0.1.0"
