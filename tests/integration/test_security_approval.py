"""One approval rule (finding 9): the API, the web page and the CLI refuse alike a campaign
whose checks find errors, and approve it alike once they find none."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pipeline.campaigns.actions import get_lifecycle
from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.web.app import create_app
from pipeline.web.auth import add_user, mint_api_token

ARTICLE = "full-treatment-for-back-pain"
PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def sendgrid_app(workspace_db, monkeypatch):
    """The app with the SendGrid backend: the sample's http:// public_url is then a check
    error in every variant (links that real inboxes cannot open)."""
    monkeypatch.setenv("CLINICMAIL_DELIVERY_BACKEND", "sendgrid")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.not-a-real-key")
    app = create_app(load_settings(workspace_db))
    sync_content(app.state.engine, app.state.settings)
    add_user(app.state.engine, "anna@clinic.example", "owner", PASSWORD)
    yield app
    app.state.engine.dispose()


def _clients(app):
    api = TestClient(app, base_url="http://127.0.0.1:8000")
    api.headers["Authorization"] = "Bearer " + mint_api_token(
        app.state.engine, "anna@clinic.example", "tests"
    )
    web = TestClient(app, base_url="http://127.0.0.1:8000")
    token = TOKEN.search(web.get("/login").text)[1]
    web.post(
        "/login", data={"email": "anna@clinic.example", "password": PASSWORD, "csrf_token": token}
    )
    web.csrf = TOKEN.search(web.get("/account/password").text)[1]
    return api, web


def test_api_web_and_cli_refuse_a_campaign_whose_checks_have_errors(sendgrid_app, workspace_db):
    api, web = _clients(sendgrid_app)
    made = api.post("/api/campaigns", json={"article": ARTICLE, "segments": []})
    slug = made.json()["slug"]

    refused = api.post(f"/api/campaigns/{slug}/approve")
    assert refused.status_code == 409
    assert re.search(r"its checks found \d+ error\(s\)", refused.json()["detail"])

    page = web.post(f"/campaigns/{slug}/approve", data={"csrf_token": web.csrf})
    assert "It cannot be approved yet" in page.text
    assert "must be fixed first" in page.text

    result = CliRunner().invoke(
        main, ["--workspace", str(workspace_db), "campaign", "approve", slug, "--by", "cli"]
    )
    assert result.exit_code == 1
    assert "its checks found" in result.output
    assert len(result.output.strip().splitlines()) == 1

    assert get_lifecycle(sendgrid_app.state.engine, slug).state == "draft"


def test_api_approves_a_campaign_whose_checks_pass(web_app):
    sync_content(web_app.state.engine, web_app.state.settings)
    add_user(web_app.state.engine, "anna@clinic.example", "owner", PASSWORD)
    api, _ = _clients(web_app)
    slug = api.post("/api/campaigns", json={"article": ARTICLE, "segments": []}).json()["slug"]
    approved = api.post(f"/api/campaigns/{slug}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["campaign"]["state"] == "approved"
