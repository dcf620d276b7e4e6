"""The JSON API over a real database: make a campaign from an article, read its plan, move it
through its lifecycle, read metrics; errors as documented status codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from pipeline.content import sync_content
from pipeline.store.types import utcnow
from pipeline.web.auth import add_user, mint_api_token

ARTICLE = "full-treatment-for-back-pain"


@pytest.fixture
def api(web_app):
    engine = web_app.state.engine
    sync_content(engine, web_app.state.settings)
    add_user(engine, "anna@clinic.example", "marketing", "correct horse battery")
    token = mint_api_token(engine, "anna@clinic.example", "tests")
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_make_plan_approve_and_schedule_a_campaign(api):
    made = api.post("/api/campaigns", json={"article": ARTICLE, "segments": []})
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["origin"] == "web" and campaign["state"] == "draft"
    slug = campaign["slug"]
    plan = api.get(f"/api/campaigns/{slug}/plan").json()
    assert plan["variants"], plan
    assert all(variant["subject"] for variant in plan["variants"])
    approved = api.post(f"/api/campaigns/{slug}/approve")
    assert approved.json()["campaign"]["approved_by"] == "anna@clinic.example"
    at = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    scheduled = api.post(f"/api/campaigns/{slug}/schedule", json={"at": at.isoformat()})
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["campaign"]["state"] == "scheduled"
    assert [c["slug"] for c in api.get("/api/campaigns").json()] == [slug]
    metrics = api.get(f"/api/campaigns/{slug}/metrics").json()
    assert metrics["totals"]["sent"] == 0 and metrics["simulated"] is False


def test_wrong_state_unknown_campaign_and_naive_times_are_documented_errors(api):
    slug = api.post("/api/campaigns", json={"article": ARTICLE}).json()["slug"]
    assert api.post(f"/api/campaigns/{slug}/resume").status_code == 409
    assert api.get("/api/campaigns/no-such-campaign").status_code == 404
    api.post(f"/api/campaigns/{slug}/approve")
    naive = api.post(f"/api/campaigns/{slug}/schedule", json={"at": "2030-01-01T09:00:00"})
    assert naive.status_code == 422
    missing = api.post("/api/campaigns", json={"article": "no-such-article"})
    assert missing.status_code == 404 and "no-such-article" in missing.json()["detail"]


def test_metrics_overview_and_daily_series(api):
    overview = api.get("/api/metrics/overview", params={"days": 7}).json()
    assert overview["totals"]["sent"] == 0
    daily = api.get("/api/metrics/daily", params={"days": 7}).json()
    assert len(daily) == 7
    assert api.get("/api/metrics/daily", params={"days": 0}).status_code == 422
    assert api.get("/api/metrics/overview", params={"dayz": 3}).status_code == 422


def test_a_session_cookie_alone_does_not_open_the_api(signed_in):
    assert signed_in.get("/api/campaigns").status_code == 401
