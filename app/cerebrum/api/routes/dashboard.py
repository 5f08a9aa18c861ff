"""GET /dashboard (admin keys): one HTML page for the operator, no build step.

Backends with their circuit and load, time to first token over time, usage per key and day,
acceptance rate and recent errors; the page reads /v1/vps/health, /v1/stats and /v1/usage
every 5 s with the browser's credentials (the key as the password of HTTP Basic, or none for
loopback in keyless mode). uPlot (npm ``uplot`` 1.6.32, MIT, ``api/static/``) is inlined, so
the page is one answer and asks no other host for anything.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@cache
def page() -> str:
    """The page with uPlot's script and style inlined (read once from the package)."""
    static = files("cerebrum.api") / "static"
    html = (static / "dashboard.html").read_text(encoding="utf-8")
    html = html.replace("/*UPLOT_CSS*/", (static / "uPlot.min.css").read_text(encoding="utf-8"))
    return html.replace("/*UPLOT_JS*/", (static / "uPlot.iife.min.js").read_text(encoding="utf-8"))


async def dashboard(request: Request) -> Response:
    return HTMLResponse(page(), headers=HEADERS)
