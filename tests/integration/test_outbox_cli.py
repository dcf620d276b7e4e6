"""`clinicmail campaign send` through click's CliRunner, on SQLite and PostgreSQL, delivering with
the file backend (every email written to var/outbox)."""

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from pipeline.campaigns.actions import approve_campaign
from pipeline.campaigns.sync import sync_campaigns
from pipeline.cli import main
from pipeline.content import sync_content
from pipeline.demo import seed_demo_contacts
from pipeline.store import open_engine
from tests.clinic_config import send_any_time, set_settings
from tests.outbox_fakes import outbox_settings

SLUG = "full-treatment-for-back-pain"


@pytest.fixture
def prepared(workspace_db, monkeypatch):
    """The sample workspace with 120 demo clients and the campaign synced (a draft)."""
    send_any_time(workspace_db / "clinic.toml")
    monkeypatch.setenv("CLINICMAIL_DELIVERY_BACKEND", "file")
    settings = outbox_settings(workspace_db)
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    seed_demo_contacts(engine, 120)
    sync_campaigns(engine, settings)
    yield workspace_db, engine
    engine.dispose()


def _send(workspace, *args):
    return CliRunner().invoke(
        main, ["--workspace", str(workspace), "campaign", "send", SLUG, *args]
    )


def test_send_now_drains_the_outbox_and_a_second_run_sends_nothing(prepared):
    workspace, engine = prepared
    approve_campaign(engine, SLUG, "owner@example.com")
    first = _send(workspace, "--now", "--json")
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    sent = document["outbox"]["sent"]
    assert document["started"] is True and document["state"] == "sent"
    assert sent == document["this_run"]["handed_off"] > 0
    assert set(document["outbox"]) <= {"sent", "skipped"}
    emails = list((workspace / "var" / "outbox").rglob("*.eml"))
    assert len(emails) == sent
    again = _send(workspace, "--now", "--json")
    assert again.exit_code == 0, again.output
    repeat = json.loads(again.stdout)
    assert repeat["started"] is False and repeat["this_run"]["handed_off"] == 0
    assert len(list((workspace / "var" / "outbox").rglob("*.eml"))) == sent


def test_the_summary_table_names_each_segment(prepared):
    workspace, engine = prepared
    approve_campaign(engine, SLUG, "owner@example.com")
    result = _send(workspace, "--now")
    assert result.exit_code == 0, result.output
    assert f"{SLUG}: started;" in result.output
    assert "general" in result.output and "sent" in result.output


def test_a_draft_is_refused_in_one_line(prepared):
    workspace, _ = prepared
    result = _send(workspace, "--now")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot send campaign {SLUG!r}: it is draft; approve it first; "
        f"`clinicmail campaign approve {SLUG}`"
    ]


def test_without_now_nothing_is_started(prepared):
    workspace, engine = prepared
    approve_campaign(engine, SLUG, "owner@example.com")
    result = _send(workspace)
    assert result.exit_code == 2
    assert "add --now" in result.output
    assert not (workspace / "var" / "outbox").exists()


def test_on_a_terminal_a_progress_bar_runs_until_the_outbox_is_drained(prepared, monkeypatch):
    workspace, engine = prepared
    approve_campaign(engine, SLUG, "owner@example.com")
    monkeypatch.setattr("pipeline.cli.send.is_terminal", lambda: True)
    result = _send(workspace, "--now")
    assert result.exit_code == 0, result.output
    assert f"sending {SLUG}" in result.output
    assert "campaign is sent" in result.output


def test_on_a_closure_date_the_summary_says_until_when_in_local_time(prepared):
    workspace, engine = prepared
    zone = outbox_settings(workspace).clinic.zone
    today = datetime.now(zone).date()
    closed = f'["{today}", "{today + timedelta(days=1)}"]'
    set_settings(workspace / "clinic.toml", "sending", closure_dates=closed)
    approve_campaign(engine, SLUG, "owner@example.com")
    result = _send(workspace, "--now")
    assert result.exit_code == 0, result.output
    reopening = today + timedelta(days=2)
    assert f"closure date until {reopening} 00:00 {zone.key}; a running" in result.output
    assert not list((workspace / "var" / "outbox").rglob("*.eml"))
