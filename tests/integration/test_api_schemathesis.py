"""Schemathesis against the JSON API's own OpenAPI description: generated requests (valid and
invalid) must never cause a server error and every response must match the schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.store import open_engine, upgrade
from pipeline.web.app import create_app
from pipeline.web.auth import add_user, mint_api_token
from pipeline.web.staff.campaign_preview import create_web_campaign

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def api_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The app over a copy of the sample workspace with its content and one web campaign
    (SQLite: the API's shape does not depend on the database)."""
    root = tmp_path / "clinic"
    root.mkdir()
    shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
    for folder in ("content", "campaigns", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    monkeypatch.delenv("CLINICMAIL_WORKSPACE", raising=False)
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", f"sqlite:///{tmp_path / 'api.db'}")
    settings_ = load_settings(root)
    engine = open_engine(settings_.database_url)
    upgrade(engine)
    app = create_app(settings_, engine)
    sync_content(engine, settings_)
    add_user(engine, "owner@clinic.example", "owner", "correct horse battery")
    create_web_campaign(
        engine,
        settings_,
        article_slug="full-treatment-for-back-pain",
        name="",
        segments=[],
        created_by="owner@clinic.example",
    )
    app.state.api_token = mint_api_token(engine, "owner@clinic.example", "schemathesis")
    yield app
    engine.dispose()


@pytest.fixture
def api_schema(api_app):
    return schemathesis.openapi.from_asgi("/api/openapi.json", api_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, api_app):
    # A schema-valid request may still name an article or segment that does not exist (404,
    # 422) or act on a campaign in the wrong state (409): facts no schema can encode. Those
    # answers are documented, which status_code_conformance checks; so positive data is not
    # required to succeed.
    # The generated case carries a placeholder bearer token, which becomes a real one. A negative
    # case may leave the header out on purpose, to check that the API refuses it: it stays out.
    token_header = {"Authorization": f"Bearer {api_app.state.api_token}"}
    case.call_and_validate(
        headers=token_header if "Authorization" in (case.headers or {}) else None,
        excluded_checks=[positive_data_acceptance],
    )
