"""Security headers (finding 12): a strict Content-Security-Policy on every page the app
serves (no inline script or style left to need an exception), HSTS when the public address is
https, and no-store on staff pages, the API and the contact export."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.web.app import create_app
from pipeline.web.auth import add_user
from pipeline.web.headers import CONTENT_SECURITY_POLICY

STAFF_PAGES = ("/", "/campaigns", "/content", "/contacts", "/report", "/users", "/messages")


def test_staff_pages_have_a_strict_policy_and_no_store(signed_in, web_app):
    sync_content(web_app.state.engine, web_app.state.settings)
    for path in STAFF_PAGES:
        response = signed_in.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert policy == CONTENT_SECURITY_POLICY
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ):
            assert directive in policy
        assert response.headers["cache-control"] == "no-store", path
        assert "strict-transport-security" not in response.headers
        # Nothing inline that the policy would block.
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path
        assert "<style" not in response.text and " style=" not in response.text, path
        assert not re.search(r"\son[a-z]+=", response.text), path


def test_the_sign_in_page_and_client_pages_need_nothing_inline(web_app):
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        page = client.get("/login")
        missing = client.get("/u/not-a-token")
    for response in (page, missing):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "<style" not in response.text and " style=" not in response.text
    assert "/brand.css" in page.text and "/brand.css" in missing.text


def test_the_brand_colour_comes_from_a_stylesheet(web_app):
    with TestClient(web_app) as client:
        response = client.get("/brand.css")
    assert response.headers["content-type"].startswith("text/css")
    colour = web_app.state.settings.clinic.brand_colour
    assert response.text == f":root {{ --brand: {colour}; }}\n"


def test_email_previews_keep_their_own_sandboxing_policy(signed_in, web_app):
    response = signed_in.get("/report/email")
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("sandbox; script-src 'none'")
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]


def test_the_contact_export_and_the_api_are_not_cached(signed_in, web_app):
    export = signed_in.get("/contacts/export", params={"email": "nobody@example.com"})
    assert export.headers["cache-control"] == "no-store"
    api = signed_in.get("/api/campaigns")
    assert api.headers["cache-control"] == "no-store"
    static = signed_in.get("/static/clinic.css")
    assert "no-store" not in static.headers.get("cache-control", "")


@pytest.fixture
def https_app(workspace_db, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_PUBLIC_URL", "https://clinic.example")
    app = create_app(load_settings(workspace_db))
    yield app
    app.state.engine.dispose()


def test_hsts_when_the_public_address_is_https(https_app, staff_password):
    add_user(https_app.state.engine, "anna@clinic.example", "owner", staff_password)
    with TestClient(https_app, base_url="https://clinic.example") as client:
        response = client.get("/login")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
