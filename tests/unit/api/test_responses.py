"""api/responses.py: JSON answers rendered compact and in UTF-8."""

from __future__ import annotations

from cerebrum.api.responses import JSONResponse


def test_json_is_compact_and_keeps_non_ascii_text_as_utf8():
    response = JSONResponse({"text": "héllo ✓", "n": [1, 2]})
    assert response.body == '{"text":"héllo ✓","n":[1,2]}'.encode()


def test_the_media_type_is_json():
    assert JSONResponse({}).headers["content-type"] == "application/json"
