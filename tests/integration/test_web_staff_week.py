"""The staff app's week without the command line, over a real database: adding and editing
articles, the campaign editor, scheduling in staff words, live figures, contact filters and
a staff unsubscribe, and the small things (favicon)."""

from __future__ import annotations

import pytest

from pipeline.content import sync_content


@pytest.fixture
def synced(web_app):
    sync_content(web_app.state.engine, web_app.state.settings)
    return web_app


def test_the_favicon_is_served(web_app, signed_in):
    response = signed_in.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text
