"""The scheduling commands through click: exit codes, one-line errors and parsed --json."""

import json

from click.testing import CliRunner

from pipeline.cli import main

SLUG = "full-treatment-for-back-pain"


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sync_approve_and_schedule_at_a_local_time(workspace_db):
    # Approval plans and checks the campaign, so its article must be synced first.
    _run("--workspace", str(workspace_db), "content", "sync")
    synced = _run("--workspace", str(workspace_db), "sync", "--json")
    assert synced.exit_code == 0, synced.output
    assert SLUG in json.loads(synced.output)["added"]
    approved = _run(
        "--workspace", str(workspace_db), "campaign", "approve", SLUG, "--by", "reception", "--json"
    )
    assert approved.exit_code == 0, approved.output
    body = json.loads(approved.output)
    assert body["state"] == "approved" and body["approved_by"] == "reception"
    scheduled = _run(
        "--workspace", str(workspace_db), "campaign", "schedule", SLUG,
        "--at", "2099-07-01 09:30", "--json",
    )  # fmt: skip
    assert scheduled.exit_code == 0, scheduled.output
    body = json.loads(scheduled.output)
    assert body["state"] == "scheduled"
    assert body["scheduled_for"].startswith("2099-07-01 08:30:00")  # BST is UTC+1
    assert body["scheduled_for_local"] == "2099-07-01 09:30 Europe/London"


def test_a_time_the_clocks_skip_is_one_line_naming_it(workspace_db):
    _run("--workspace", str(workspace_db), "content", "sync")
    _run("--workspace", str(workspace_db), "sync")
    _run("--workspace", str(workspace_db), "campaign", "approve", SLUG)
    result = CliRunner().invoke(
        main,
        [
            "--workspace",
            str(workspace_db),
            "campaign",
            "schedule",
            SLUG,
            "--at",
            "2099-03-29 01:30",
        ],
    )
    assert result.exit_code == 1
    assert "2099-03-29 01:30:00 Europe/London does not exist" in result.output
    assert "Traceback" not in result.output


def test_scheduling_a_draft_exits_1_saying_approve_first(workspace_db):
    _run("--workspace", str(workspace_db), "content", "sync")
    _run("--workspace", str(workspace_db), "sync")
    result = CliRunner().invoke(
        main, ["--workspace", str(workspace_db), "campaign", "schedule", SLUG]
    )
    assert result.exit_code == 1
    assert "approve it first; `clinicmail campaign approve" in result.output


def test_pause_resume_cancel(workspace_db):
    _run("--workspace", str(workspace_db), "content", "sync")
    _run("--workspace", str(workspace_db), "sync")
    _run("--workspace", str(workspace_db), "campaign", "approve", SLUG)
    _run("--workspace", str(workspace_db), "campaign", "schedule", SLUG, "--at", "2099-07-01 10:00")
    paused = _run("--workspace", str(workspace_db), "campaign", "pause", SLUG, "--json")
    assert json.loads(paused.output)["state"] == "paused"
    resumed = _run("--workspace", str(workspace_db), "campaign", "resume", SLUG, "--json")
    assert json.loads(resumed.output)["state"] == "scheduled"
    cancelled = _run("--workspace", str(workspace_db), "campaign", "cancel", SLUG, "--by", "owner")
    assert cancelled.exit_code == 0
    assert cancelled.output.strip() == f"cancelled {SLUG}"


def test_sync_exits_1_when_a_change_is_refused(workspace_db):
    from pipeline.config import load_settings
    from pipeline.store import campaign_states as store
    from pipeline.store import open_engine, utcnow

    _run("--workspace", str(workspace_db), "content", "sync")
    _run("--workspace", str(workspace_db), "sync")
    engine = open_engine(load_settings(workspace_db).database_url)
    with engine.begin() as conn:
        store.transition(conn, SLUG, ("draft",), "sent", utcnow(), started_at=utcnow())
    engine.dispose()
    path = workspace_db / "campaigns" / f"{SLUG}.yaml"
    path.write_text(path.read_text().replace("threshold: 0.3", "threshold: 0.2"))
    result = CliRunner().invoke(main, ["--workspace", str(workspace_db), "sync"])
    assert result.exit_code == 1
    assert "changed after sending started" in result.output


def test_report_writes_an_eml(workspace_db, tmp_path):
    out = tmp_path / "week.eml"
    result = _run("--workspace", str(workspace_db), "report", "--week", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"Subject: Weekly report")
