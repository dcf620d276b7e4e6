"""The command without an optional extra: one line naming the extra, exit code 1, nothing
written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"


@pytest.fixture
def without_import_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    for name in ("pipeline.content.html", "pipeline.content.feed"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_parsing_a_page_without_the_import_extra_says_which_extra(workspace, without_import_extra):
    page = FIXTURES / "html" / "shoulder-tension.html"
    result = CliRunner().invoke(
        main, ["--workspace", str(workspace), "content", "parse", str(page)]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: importing a web page needs the 'import' extra: pip install 'clinicmail[import]'\n"
    )


def test_sync_without_the_import_extra_writes_nothing(workspace_db, without_import_extra):
    (workspace_db / "content" / "news.rss").write_bytes(
        (FIXTURES / "feeds" / "clinic-blog.rss").read_bytes()
    )
    runner = CliRunner()
    result = runner.invoke(main, ["--workspace", str(workspace_db), "content", "sync"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: importing an RSS or Atom feed needs the 'import' extra: "
        "pip install 'clinicmail[import]'\n"
    )
    listed = runner.invoke(main, ["--workspace", str(workspace_db), "content", "list", "--json"])
    assert listed.stdout.strip() == "[]"


def test_postgresql_without_the_postgres_extra_says_which_extra(workspace, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", "postgresql://clinic@db.example/clinicmail")
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: a PostgreSQL database needs the 'postgres' extra: "
        "pip install 'clinicmail[postgres]'\n"
    )
