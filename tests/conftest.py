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
