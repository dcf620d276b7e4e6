"""The campaign lifecycle on a real database: staff actions, conditional transitions, missed
triggers and quiet-hours holds, on SQLite and PostgreSQL."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.campaigns.actions import (
    approve_campaign,
    cancel_campaign,
    get_lifecycle,
    hold_for_quiet_hours,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from pipeline.config import load_settings
from pipeline.errors import NotFoundError, StateError
from pipeline.store import campaign_states as store
from pipeline.store import open_engine
from pipeline.worker.jobs import run_due_campaign

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(workspace_db):
    return load_settings(workspace_db)


def _add(engine, slug="autumn-news", state="draft", started_at=None, **values):
    with engine.begin() as conn:
        store.insert_campaign(
            conn, slug=slug, name=slug.title(), origin="file", spec={"slug": slug},
            spec_hash="0" * 64, state=state, now=MONDAY_NOON, **values,
        )  # fmt: skip
        if started_at is not None:
            store.transition(conn, slug, (state,), state, MONDAY_NOON, started_at=started_at)


def test_approve_records_who_and_when_and_is_idempotent(engine):
    _add(engine)
    result = approve_campaign(engine, "autumn-news", "reception", now=MONDAY_NOON)
    assert result.campaign.state == "approved"
    assert result.campaign.approved_by == "reception"
    assert result.campaign.approved_at == MONDAY_NOON
    again = approve_campaign(engine, "autumn-news", "someone else", now=MONDAY_NOON)
    assert again.campaign.approved_by == "reception"
    assert "already approved" in again.message


def test_an_unknown_campaign_says_how_to_add_it(engine):
    with pytest.raises(NotFoundError, match=r"^no campaign 'nope'$") as missing:
        approve_campaign(engine, "nope", "reception")
    assert "campaigns/nope.yaml" in missing.value.for_command_line()


def test_a_draft_cannot_be_scheduled_and_the_message_says_approve(engine, settings):
    _add(engine)
    with pytest.raises(StateError, match=r"is draft; approve it first"):
        schedule_campaign(engine, settings, "autumn-news", MONDAY_NOON + timedelta(days=1))


def test_schedule_needs_a_future_time_and_notes_quiet_hours(engine, settings):
    _add(engine, state="approved")
    with pytest.raises(StateError, match="in the past"):
        schedule_campaign(engine, settings, "autumn-news", MONDAY_NOON, now=MONDAY_NOON)
    late_evening = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    result = schedule_campaign(engine, settings, "autumn-news", late_evening, now=MONDAY_NOON)
    assert result.campaign.state == "scheduled"
    assert result.campaign.scheduled_for == late_evening
    assert "quiet hours" in result.notes[0] and "2026-11-24 08:00" in result.notes[0]


def test_without_a_time_schedule_uses_the_files_and_says_when_there_is_none(engine, settings):
    file_time = MONDAY_NOON + timedelta(days=2)
    with engine.begin() as conn:
        store.insert_campaign(
            conn, slug="timed", name="Timed", origin="file",
            spec={"slug": "timed", "send_at": file_time.isoformat()}, spec_hash="0" * 64,
            state="approved", now=MONDAY_NOON,
        )  # fmt: skip
    assert (
        schedule_campaign(engine, settings, "timed", now=MONDAY_NOON).campaign.scheduled_for
        == file_time
    )
    _add(engine, state="approved")
    with pytest.raises(StateError, match="no send time in its file"):
        schedule_campaign(engine, settings, "autumn-news", now=MONDAY_NOON)


def test_pause_and_resume_a_scheduled_campaign(engine, settings):
    due = MONDAY_NOON + timedelta(hours=3)
    _add(engine, state="scheduled", scheduled_for=due)
    paused = pause_campaign(engine, "autumn-news", "reception", now=MONDAY_NOON)
    assert paused.campaign.state == "paused"
    assert "paused by reception" in paused.campaign.state_reason
    resumed = resume_campaign(engine, settings, "autumn-news", now=MONDAY_NOON)
    assert resumed.campaign.state == "scheduled"
    assert resumed.campaign.scheduled_for == due


def test_resuming_after_the_time_went_by_beyond_grace_is_refused(engine, settings):
    _add(engine, state="paused", scheduled_for=MONDAY_NOON)
    with pytest.raises(StateError, match=r"passed 2 h ago, beyond the 60-minute grace window"):
        resume_campaign(engine, settings, "autumn-news", now=MONDAY_NOON + timedelta(hours=2))


def test_a_started_campaign_resumes_to_sending(engine, settings):
    _add(engine, state="paused", started_at=MONDAY_NOON)
    assert resume_campaign(engine, settings, "autumn-news").campaign.state == "sending"


def test_cancel_and_what_cannot_follow_it(engine, settings):
    _add(engine, state="scheduled", scheduled_for=MONDAY_NOON + timedelta(hours=1))
    result = cancel_campaign(engine, "autumn-news", "owner", now=MONDAY_NOON)
    assert result.campaign.state == "cancelled"
    with pytest.raises(StateError, match="it was cancelled"):
        schedule_campaign(engine, settings, "autumn-news", MONDAY_NOON + timedelta(days=1))
    with pytest.raises(StateError, match="cannot cancel"):
        cancel_campaign(engine, "autumn-news", "owner")


def test_a_trigger_later_than_the_grace_window_marks_the_campaign_missed(engine, settings):
    _add(engine, state="scheduled", scheduled_for=MONDAY_NOON)
    report = run_due_campaign(engine, settings, "autumn-news", MONDAY_NOON + timedelta(hours=2))
    assert report.outcome == "missed"
    campaign = get_lifecycle(engine, "autumn-news")
    assert campaign.state == "missed"
    assert "2026-11-23 12:00 Europe/London" in campaign.state_reason
    assert "not sent late" in campaign.state_reason
    # A missed campaign is scheduled again only by a person giving it a new time.
    again = schedule_campaign(
        engine, settings, "autumn-news", MONDAY_NOON + timedelta(days=1),
        now=MONDAY_NOON + timedelta(hours=2),
    )  # fmt: skip
    assert again.campaign.state == "scheduled"


def test_a_trigger_that_fires_early_or_for_another_state_does_nothing(engine, settings):
    _add(engine, state="scheduled", scheduled_for=MONDAY_NOON)
    assert (
        run_due_campaign(
            engine, settings, "autumn-news", MONDAY_NOON - timedelta(seconds=5)
        ).outcome
        == "not due"
    )
    pause_campaign(engine, "autumn-news", "reception")
    assert run_due_campaign(engine, settings, "autumn-news", MONDAY_NOON).outcome == "not scheduled"


def test_quiet_hours_pause_running_campaigns_and_resume_them_after(engine, settings):
    _add(engine, state="sending", started_at=MONDAY_NOON)
    _add(engine, slug="held-by-staff", state="paused", started_at=MONDAY_NOON)
    evening = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    assert hold_for_quiet_hours(engine, settings, evening) == ["autumn-news"]
    held = get_lifecycle(engine, "autumn-news")
    assert held.state == "paused"
    assert held.resume_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert "resumes by itself" in held.state_reason
    assert hold_for_quiet_hours(engine, settings, evening + timedelta(hours=3)) == []
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert hold_for_quiet_hours(engine, settings, morning) == ["autumn-news"]
    assert get_lifecycle(engine, "autumn-news").state == "sending"
    assert get_lifecycle(engine, "held-by-staff").state == "paused"


def test_concurrent_actors_cannot_both_win_a_transition(engine, database_url):
    _add(engine, state="scheduled", scheduled_for=MONDAY_NOON)
    engines = [open_engine(database_url) for _ in range(6)]
    wins: list[bool] = []
    barrier = threading.Barrier(len(engines))

    def race(own):
        barrier.wait()
        with own.begin() as conn:
            wins.append(
                store.transition(conn, "autumn-news", ("scheduled",), "missed", MONDAY_NOON)
            )

    threads = [threading.Thread(target=race, args=(own,)) for own in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for own in engines:
        own.dispose()
    assert sorted(wins) == [False] * 5 + [True]
