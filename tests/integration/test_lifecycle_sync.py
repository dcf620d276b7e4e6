"""Campaign files into the lifecycle: idempotent, reschedules on a time change, asks for a new
approval on a content change, refuses a change after sending started, on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest

from pipeline.campaigns.actions import approve_campaign, get_lifecycle, schedule_campaign
from pipeline.campaigns.sync import campaign_files_fingerprint, sync_campaigns
from pipeline.config import load_settings
from pipeline.errors import SpecError
from pipeline.store import campaign_states as store

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SLUG = "full-treatment-for-back-pain"


@pytest.fixture
def settings(workspace_db):
    return load_settings(workspace_db)


def _edit(settings, slug, old, new):
    path = settings.path("campaigns", f"{slug}.yaml")
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_sync_adds_drafts_once_and_then_changes_nothing(engine, settings):
    first = sync_campaigns(engine, settings, now=NOW)
    assert SLUG in first.added and "monthly-digest" in first.added
    campaign = get_lifecycle(engine, SLUG)
    assert campaign.state == "draft"
    assert campaign.scheduled_for == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    digest = get_lifecycle(engine, "monthly-digest")
    assert digest.cron == "0 9 1 * *"
    assert digest.scheduled_for == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    second = sync_campaigns(engine, settings, now=NOW)
    assert second.added == [] and sorted(second.unchanged) == sorted(first.added)


def test_a_changed_send_time_reschedules_a_scheduled_campaign(engine, settings):
    sync_campaigns(engine, settings, now=NOW)
    approve_campaign(engine, SLUG, "reception", now=NOW)
    schedule_campaign(engine, settings, SLUG, now=NOW)
    _edit(settings, SLUG, '"2026-12-02 09:30"', '"2026-12-03 10:15"')
    report = sync_campaigns(engine, settings, now=NOW)
    assert report.rescheduled == [SLUG]
    campaign = get_lifecycle(engine, SLUG)
    assert campaign.state == "scheduled"
    assert campaign.approved_by == "reception"
    assert campaign.scheduled_for == datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
    assert "rescheduled for 2026-12-03 10:15 Europe/London" in campaign.state_reason


def test_a_changed_campaign_needs_approving_again(engine, settings):
    sync_campaigns(engine, settings, now=NOW)
    approve_campaign(engine, SLUG, "reception", now=NOW)
    _edit(settings, SLUG, "threshold: 0.3", "threshold: 0.25")
    report = sync_campaigns(engine, settings, now=NOW)
    assert report.unapproved == [SLUG]
    campaign = get_lifecycle(engine, SLUG)
    assert campaign.state == "draft"
    assert campaign.approved_by is None
    assert "changed after approval: approve it again" in campaign.state_reason


def test_a_change_after_sending_started_is_refused_with_the_reason(engine, settings):
    sync_campaigns(engine, settings, now=NOW)
    with engine.begin() as conn:
        store.transition(conn, SLUG, ("draft",), "sending", NOW, started_at=NOW)
    _edit(settings, SLUG, "threshold: 0.3", "threshold: 0.25")
    report = sync_campaigns(engine, settings, now=NOW)
    assert len(report.refused) == 1
    assert (
        "changed after sending started (2026-11-21 12:00 Europe/London, now sending)"
        in (report.refused[0])
    )
    assert "copy the file to a new slug" in report.refused[0]
    assert get_lifecycle(engine, SLUG).state == "sending"


def test_a_removed_file_cancels_its_unsent_campaign(engine, settings):
    sync_campaigns(engine, settings, now=NOW)
    settings.path("campaigns", "monthly-digest.yaml").unlink()
    report = sync_campaigns(engine, settings, now=NOW)
    assert report.cancelled == ["monthly-digest"]
    assert "monthly-digest.yaml was removed" in get_lifecycle(engine, "monthly-digest").state_reason


def test_an_invalid_file_stops_the_sync_before_anything_is_written(engine, settings):
    _edit(settings, SLUG, '"2026-12-02 09:30"', '"2026-03-29 01:30"')
    with pytest.raises(SpecError, match="2026-03-29 01:30:00 Europe/London does not exist"):
        sync_campaigns(engine, settings, now=NOW)
    with engine.connect() as conn:
        assert store.all_campaigns(conn) == []


def test_the_fingerprint_changes_when_a_file_does(settings):
    before = campaign_files_fingerprint(settings)
    assert campaign_files_fingerprint(settings) == before
    _edit(settings, SLUG, "threshold: 0.3", "threshold: 0.35")
    assert campaign_files_fingerprint(settings) != before


def test_the_fingerprint_changes_when_the_segments_do_but_not_for_other_files(settings):
    # Campaign files are checked against segments.yaml, so editing it is a reason to sync again.
    before = campaign_files_fingerprint(settings)
    settings.path("campaigns", "notes.txt").write_text("not a campaign", encoding="utf-8")
    assert campaign_files_fingerprint(settings) == before
    segments = settings.path("campaigns", "segments.yaml")
    segments.write_text(segments.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert campaign_files_fingerprint(settings) != before
