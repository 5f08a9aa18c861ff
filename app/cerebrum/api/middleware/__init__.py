"""Pure ASGI middleware (no BaseHTTPMiddleware), so streaming responses stay cheap."""
