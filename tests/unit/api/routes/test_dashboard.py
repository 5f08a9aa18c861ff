"""api/routes/dashboard.py: one self-contained page, for admin keys only (the page itself is
driven in headless Chromium by tests/integration/orchestrator/test_dashboard.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_the_page_inlines_its_chart_library_and_asks_no_other_host(client):
    response = await client.get("/dashboard")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "/*UPLOT_JS*/" not in response.text
    assert "uPlot" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "http://" not in response.text.replace("http://www.w3.org", "")


async def test_a_key_that_is_not_admin_is_refused(app_client):
    keys = [{"name": "alice", "key": "k-alice"}, {"name": "ops", "key": "k-ops", "admin": True}]
    async with app_client(client_keys=keys) as http:
        alice = await http.get("/dashboard", headers={"Authorization": "Bearer k-alice"})
        ops = await http.get("/dashboard", headers={"Authorization": "Bearer k-ops"})
    assert alice.status_code == 403
    assert ops.status_code == 200
