"""Contacts files past the limits (finding 5, and a folder for finding 8): at most 200 columns
and 64 KB per cell, errors of a readable length that name the count, a small flash cookie on
the web, and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.contacts.csvfile import MAX_CELL_CHARS, MAX_COLUMNS
from pipeline.store.tables import contacts

MILLION_COLUMNS = ",".join(f"Column {n}" for n in range(1_000_000)) + "\nann@example.org\n"


@pytest.fixture
def run(workspace_db: Path):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, ["--workspace", str(workspace_db), *args])

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def _stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(contacts)).scalar_one()


def _contacts_in(workspace: Path) -> int:
    from pipeline.config import load_settings
    from pipeline.store import open_engine

    engine = open_engine(load_settings(workspace).database_url)
    try:
        return _stored(engine)
    finally:
        engine.dispose()


@pytest.mark.timeout(60)
def test_a_million_columns_is_one_short_line_from_the_cli(run, workspace_db, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text(MILLION_COLUMNS, encoding="utf-8")
    result = run("contacts", "import", str(export))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {export}: row 1 has 1,000,000 columns; a contacts file may have at most "
        f"{MAX_COLUMNS}, so nothing was imported\n"
    )
    assert _contacts_in(workspace_db) == 0


def test_more_columns_than_the_limit_in_a_data_row_is_refused(run, workspace_db, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text(
        "Email,First Name\nann@example.org,Ann\nbob@example.org," + "x," * MAX_COLUMNS + "\n",
        encoding="utf-8",
    )
    result = run("contacts", "import", str(export))
    assert result.exit_code == 1
    assert "row 3 has 202 columns" in result.output
    assert _contacts_in(workspace_db) == 0


def test_a_cell_past_64_kb_is_refused(run, workspace_db, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text(
        f"Email,Notes\nann@example.org,{'x' * (MAX_CELL_CHARS + 1)}\n", encoding="utf-8"
    )
    result = run("contacts", "import", str(export))
    assert result.exit_code == 1
    assert "row 2, column 2 holds 65,537 characters" in result.output
    assert len(result.output.splitlines()) == 1
    assert _contacts_in(workspace_db) == 0


def test_many_headings_without_an_email_are_summarised(run, workspace_db, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text(",".join(f"Heading {n}" for n in range(150)) + "\n1\n", encoding="utf-8")
    result = run("contacts", "import", str(export))
    assert result.exit_code == 1
    assert "'Heading 9' … and 140 more" in result.output
    assert len(result.output) < 600


def test_ignored_columns_are_summarised(run, workspace_db, tmp_path):
    export = tmp_path / "export.csv"
    headings = ["Email"] + [f"Extra {n}" for n in range(150)]
    export.write_text(",".join(headings) + "\nann@example.org" + "," * 150 + "\n", encoding="utf-8")
    result = run("contacts", "import", str(export))
    assert result.exit_code == 0
    assert "ignored columns: 'Extra 0', " in result.output
    assert "… and 140 more" in result.output
    assert len(result.output) < 1000


def test_importing_a_folder_exits_1_in_one_line(run, tmp_path):
    result = run("contacts", "import", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path}: is a folder, not a CSV file\n"


@pytest.mark.timeout(60)
def test_a_million_columns_on_the_web_keeps_the_flash_cookie_small(signed_in, web_app):
    response = signed_in.post(
        "/contacts/import",
        data={"csrf_token": signed_in.csrf},
        files={"file": ("export.csv", MILLION_COLUMNS.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert len(response.headers["set-cookie"]) < 2048
    page = signed_in.get("/contacts")
    assert "row 1 has 1,000,000 columns" in page.text
    assert _stored(web_app.state.engine) == 0


def test_a_rejection_quotes_a_huge_cell_only_in_part(run, workspace_db, tmp_path):
    export = tmp_path / "export.csv"
    bad_address = "x" * 60_000
    rows = "".join(f"{bad_address}{n}\n" for n in range(60))
    export.write_text("Email\n" + rows, encoding="utf-8")
    result = run("contacts", "import", str(export))
    assert result.exit_code == 0
    assert "60 rejected" in result.output and "... and 10 more" in result.output
    assert len(result.output) < 15_000
    assert "characters left out) …" in result.output
    assert "An email address must have an @-sign." in result.output
    assert _contacts_in(workspace_db) == 0
