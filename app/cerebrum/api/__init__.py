"""The HTTP API: app factory (main.py), middleware, routes, schemas, SSE."""
