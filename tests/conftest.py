"""Shared fixtures: a sample workspace, and a migrated database on SQLite and on PostgreSQL.

PostgreSQL: $CLINICMAIL_TEST_POSTGRES_URL (a server URL without a database name) when set,
otherwise a throwaway server this session starts. Locally its tests skip, with the reason, when
no server can be had; with CI=true they fail instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from pipeline.store import open_engine, upgrade
from tests.postgres import PostgresUnavailable, ThrowawayPostgres

REPO = Path(__file__).resolve().parent.parent
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The base URL of a PostgreSQL server with a migrated template database."""
    url = os.environ.get("CLINICMAIL_TEST_POSTGRES_URL")
    server = None
    if not url:
        server = ThrowawayPostgres()
        try:
            url = server.start()
        except PostgresUnavailable as error:
            server.stop()
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL is required in CI: {error}")
            pytest.skip(f"no PostgreSQL server: {error}")
    admin = create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS clinicmail_template"))
        connection.execute(text("CREATE DATABASE clinicmail_template"))
    template = open_engine(f"{url}/clinicmail_template")
    upgrade(template)
    template.dispose()
    admin.dispose()
    yield url
    if server is not None:
        server.stop()


def _new_postgres_database(server_url: str) -> str:
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE clinicmail_template"))
    admin.dispose()
    return f"{server_url}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clinicmail.db'}"
        engine = open_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    return _new_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample clinic's workspace (clinic.toml, content, campaigns, templates)."""
    root = tmp_path / "clinic"
    root.mkdir()
    shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
    for folder in ("content", "campaigns", "templates"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder)
    for variable in ("CLINICMAIL_WORKSPACE", "CLINICMAIL_DATABASE_URL", "SENDGRID_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "test-secret-key-not-for-production")
    return root


@pytest.fixture
def workspace_db(workspace: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample workspace pointed at a migrated database (SQLite, then PostgreSQL)."""
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", database_url)
    return workspace


@pytest.fixture
def web_app(workspace_db: Path):
    """The web app over the sample workspace and a migrated database (SQLite, then PostgreSQL)."""
    from pipeline.config import load_settings
    from pipeline.web.app import create_app

    app = create_app(load_settings(workspace_db))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def staff_password() -> str:
    return "correct horse battery"


@pytest.fixture
def signed_in(web_app, staff_password: str):
    """A TestClient signed in as an owner (owner@clinic.example); `.csrf` is its form token."""
    import re

    from fastapi.testclient import TestClient

    from pipeline.web.auth import add_user

    add_user(web_app.state.engine, "owner@clinic.example", "owner", staff_password)
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        response = client.post(
            "/login",
            data={"email": "owner@clinic.example", "password": staff_password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        client.csrf = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/account/password").text
        )[1]
        yield client


@pytest.fixture
def webhook_signer():
    """A Signed Event Webhook key pair that signs request bodies the way SendGrid does."""
    from tests.tracking_support import WebhookSigner

    return WebhookSigner()


@pytest.fixture
def tracking_app(workspace_db: Path, webhook_signer, monkeypatch: pytest.MonkeyPatch):
    """A bare FastAPI app with only the public and webhook routers, over the sample workspace
    and a migrated database (SQLite, then PostgreSQL); the webhook key is `webhook_signer`'s."""
    from fastapi import FastAPI

    from pipeline.config import load_settings
    from pipeline.web import public, webhooks

    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", webhook_signer.public_key_b64)
    app = FastAPI()
    app.state.settings = load_settings(workspace_db)
    app.state.engine = open_engine(app.state.settings.database_url)
    app.include_router(public.router)
    app.include_router(webhooks.router)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def tracking_client(tracking_app):
    from fastapi.testclient import TestClient

    with TestClient(tracking_app, base_url="http://127.0.0.1:8000") as client:
        yield client
