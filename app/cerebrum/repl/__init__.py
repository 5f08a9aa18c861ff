"""The streaming terminal client (``cerebrum-repl``): a REPL over the orchestrator's HTTP API.

It talks to the orchestrator over HTTP only and is never imported by the service, so its
dependencies (prompt-toolkit, pygments) cost the orchestrator's memory nothing.
"""
