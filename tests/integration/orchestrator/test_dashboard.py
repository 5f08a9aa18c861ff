"""The operator's dashboard in a real headless browser (Debian's Chromium, driven by
Playwright) against the real orchestrator in front of the real llama-server: it asks for the
admin key (HTTP Basic), then shows the backends, usage per key and recent errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from harness.orchestrator import CLIENT_KEY

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
ADMIN_KEY = "admin-" + CLIENT_KEY
KEYS = json.dumps(
    [{"name": "alice", "key": CLIENT_KEY}, {"name": "ops", "key": ADMIN_KEY, "admin": True}]
)

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="apt-get install chromium")


def test_the_dashboard_shows_backends_usage_per_key_and_recent_errors(start_orchestrator, tmp_path):
    instance = start_orchestrator(client_keys=KEYS, usage_db=str(tmp_path / "usage.sqlite3"))
    with instance.client() as http:  # alice: one completion and one error
        assert http.post("/v1/complete", json={"prompt": "def f():", "max_tokens": 4}).is_success
        assert http.post("/v1/complete", json={"model": "nope", "prompt": "x"}).status_code == 400
        asked = http.get("/dashboard", headers={"Accept": "text/html"})  # alice: not admin
    assert asked.status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for _ in range(50):  # usage is written off the hot path, once a second at most
        rows = httpx.get(f"{instance.url}/v1/usage", headers=admin, timeout=5).json()["rows"]
        if any(row["key"] == "alice" for row in rows):
            break
        time.sleep(0.1)
    refused = httpx.get(f"{instance.url}/dashboard", headers={"Accept": "text/html"}, timeout=5)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context(
                http_credentials={"username": "ops", "password": ADMIN_KEY}
            )
            page = context.new_page()
            failures: list[str] = []
            page.on("pageerror", lambda error: failures.append(str(error)))
            page.goto(f"{instance.url}/dashboard")
            try:
                page.locator("body[data-ready='1']").wait_for(state="attached", timeout=20_000)
            finally:
                print("page status:", page.inner_text("#status"), failures)
            backends = page.inner_text("#backends")
            keys = page.inner_text("#keys")
            errors = page.inner_text("#errors")
            charts = page.locator("canvas").count()
            status = page.inner_text("#status")
        finally:
            browser.close()
    assert failures == []
    assert "closed" in backends, backends
    assert "alice" in keys, keys
    assert "unknown_model" in errors, errors
    assert charts >= 2
    assert "usage database ok" in status, status
