"""Commands on a database that lacks migrations say what to do instead of failing in SQL."""

import json

from click.testing import CliRunner

from pipeline.cli import main


def test_a_command_on_an_empty_database_asks_for_db_upgrade(workspace, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", f"sqlite:///{workspace / 'var' / 'fresh.db'}")
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "segments", "list"])
    assert result.exit_code == 1
    assert "has no tables yet" in result.output
    assert "run 'clinicmail db upgrade' first" in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_then_the_command_works(workspace, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", f"sqlite:///{workspace / 'var' / 'fresh.db'}")
    runner = CliRunner()
    upgraded = runner.invoke(main, ["--workspace", str(workspace), "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    listed = runner.invoke(main, ["--workspace", str(workspace), "segments", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)
