"""Scheduling with real sending on SQLite and PostgreSQL: a running worker sends a campaign on
time and once; duplicate triggers start it once; the weekly cap holds across campaigns; quiet
hours pause a running campaign and it resumes after them."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from pipeline.campaigns.actions import (
    approve_campaign,
    get_lifecycle,
    hold_for_quiet_hours,
    schedule_campaign,
)
from pipeline.campaigns.sync import sync_campaigns
from pipeline.content import sync_content
from pipeline.demo import seed_demo_contacts
from pipeline.outbox import drain_outbox, start_campaign
from pipeline.store import campaign_states as store
from pipeline.store import open_engine
from pipeline.store.tables import sends
from pipeline.worker.jobs import run_due_campaign
from pipeline.worker.scheduler import run_worker
from tests.outbox_fakes import RecordingBackend, outbox_settings
from tests.waiting import wait_for

SLUG = "full-treatment-for-back-pain"
SECOND = "second-look"
WAIT_LIMIT_SECONDS = 90


@pytest.fixture
def settings(workspace_db):
    # A second one-off campaign, so two campaigns can share the weekly cap.
    source = (workspace_db / "campaigns" / f"{SLUG}.yaml").read_text(encoding="utf-8")
    second = source.replace('send_at: "2026-12-02 09:30"\n', "").replace(
        "campaign: legs-back-pain", "campaign: second-look"
    )
    (workspace_db / "campaigns" / f"{SECOND}.yaml").write_text(second, encoding="utf-8")
    return outbox_settings(workspace_db)


@pytest.fixture
def ready(settings):
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    seed_demo_contacts(engine, 40)
    sync_campaigns(engine, settings)
    for slug in (SLUG, SECOND):
        approve_campaign(engine, slug, "owner@example.com")
    yield engine
    engine.dispose()


def _statuses(engine, slug):
    with engine.connect() as conn:
        campaign = store.find_campaign(conn, slug)
        rows = conn.execute(
            select(sends.c.contact_id, sends.c.status, sends.c.reason).where(
                sends.c.campaign_id == campaign.id
            )
        ).all()
    return rows


@pytest.mark.slow
def test_a_running_worker_sends_a_campaign_scheduled_3_seconds_ahead_once(ready, settings):
    backend = RecordingBackend()
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker,
        args=(settings, stop),
        kwargs={"engine": ready, "backend": backend, "tick_seconds": 0.2},
    )
    worker.start()
    try:
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        schedule_campaign(ready, settings, SLUG, when)
        wait_for(
            lambda: get_lifecycle(ready, SLUG).state == "sent",
            "the campaign to be sent",
            seconds=WAIT_LIMIT_SECONDS,
        )
    finally:
        stop.set()
        worker.join()
    campaign = get_lifecycle(ready, SLUG)
    assert campaign.started_at >= when
    rows = _statuses(ready, SLUG)
    sent = [row for row in rows if row.status == "sent"]
    assert len(sent) > 0
    assert backend.duplicates() == []
    assert len(backend.delivered) == len(sent)


def test_duplicate_triggers_start_once_and_two_draining_workers_send_once(
    ready, settings, database_url
):
    due = datetime.now(UTC) + timedelta(seconds=1)
    schedule_campaign(ready, settings, SLUG, due)
    engines = [open_engine(database_url) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(engines))

    def trigger(engine):
        barrier.wait()
        outcomes.append(
            run_due_campaign(engine, settings, SLUG, due + timedelta(seconds=1)).outcome
        )

    threads = [threading.Thread(target=trigger, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes)["started"] == 1
    assert set(outcomes) <= {"started", "already started", "not scheduled"}
    audience = len(_statuses(ready, SLUG))
    contacts = [row.contact_id for row in _statuses(ready, SLUG)]
    assert len(contacts) == len(set(contacts))
    backend = RecordingBackend()
    drains = [
        threading.Thread(
            target=drain_outbox, args=(engine, settings, backend), kwargs={"worker_id": f"w{n}"}
        )
        for n, engine in enumerate(engines[:2])
    ]
    for drain in drains:
        drain.start()
    for drain in drains:
        drain.join()
    for engine in engines:
        engine.dispose()
    assert backend.duplicates() == []
    assert len(backend.delivered) == audience
    assert get_lifecycle(ready, SLUG).state == "sent"


def test_the_weekly_cap_holds_across_two_campaigns(ready, settings):
    capped = settings.model_copy(
        update={"sending": settings.sending.model_copy(update={"weekly_cap": 1})}
    )
    backend = RecordingBackend()
    # Both start before either sends: the second sees the first's queue and skips those people.
    first = start_campaign(ready, capped, SLUG)
    second = start_campaign(ready, capped, SECOND)
    drain_outbox(ready, capped, backend)
    first_rows, second_rows = _statuses(ready, SLUG), _statuses(ready, SECOND)
    assert first.audience == len(first_rows) > 0
    assert {row.status for row in first_rows} == {"sent"}
    assert {(row.status, row.reason) for row in second_rows} == {("skipped", "weekly cap")}
    assert second.audience == len(second_rows)
    assert backend.duplicates() == []
    assert len(backend.delivered) == len(first_rows)


def test_a_contact_under_the_cap_still_receives_the_second_campaign(ready, settings):
    capped = settings.model_copy(
        update={"sending": settings.sending.model_copy(update={"weekly_cap": 1})}
    )
    backend = RecordingBackend()
    start_campaign(ready, capped, SLUG)
    drain_outbox(ready, capped, backend)
    received_first = {row.contact_id for row in _statuses(ready, SLUG)}
    seed_demo_contacts(ready, 10)
    start_campaign(ready, capped, SECOND)
    drain_outbox(ready, capped, backend)
    second = _statuses(ready, SECOND)
    newcomers = {row.contact_id for row in second if row.status == "sent"}
    assert newcomers and not newcomers & received_first
    assert {row.contact_id for row in second if row.status == "skipped"} <= received_first
    assert backend.duplicates() == []


def test_quiet_hours_pause_a_running_campaign_and_it_resumes_after(ready, workspace_db):
    settings = outbox_settings(workspace_db)
    settings = settings.model_copy(
        update={"sending": settings.sending.model_copy(update={"quiet_hours": "21:00-08:00"})}
    )
    backend = RecordingBackend()
    evening = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 20:00 in London
    with time_machine.travel(evening, tick=False):
        start_campaign(ready, settings, SLUG)
    queued = len(_statuses(ready, SLUG))
    with time_machine.travel(evening + timedelta(minutes=90), tick=False):  # 21:30
        assert hold_for_quiet_hours(ready, settings, datetime.now(UTC)) == [SLUG]
        held = get_lifecycle(ready, SLUG)
        assert held.state == "paused"
        assert "until 2026-11-24 08:00 Europe/London" in held.state_reason
        drain_outbox(ready, settings, backend)
        assert backend.delivered == []
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, 30, tzinfo=UTC), tick=False):
        assert hold_for_quiet_hours(ready, settings, datetime.now(UTC)) == [SLUG]
        assert get_lifecycle(ready, SLUG).state == "sending"
        drain_outbox(ready, settings, backend)
    assert len(backend.delivered) == queued
    assert get_lifecycle(ready, SLUG).state == "sent"


def test_a_digest_occurrence_is_sent_as_its_own_campaign_then_the_next_one_skips(ready, settings):
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    approve_campaign(ready, "monthly-digest", "owner@example.com", now=now)
    scheduled = schedule_campaign(ready, settings, "monthly-digest", now=now).campaign
    assert scheduled.scheduled_for == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    fired = run_due_campaign(ready, settings, "monthly-digest", scheduled.scheduled_for)
    assert fired.outcome == "started"
    assert fired.slug == "monthly-digest-2026-12-01"
    occurrence = get_lifecycle(ready, "monthly-digest-2026-12-01")
    assert occurrence.state == "sending" and occurrence.origin == "digest"
    assert occurrence.approved_by == "owner@example.com"
    with ready.connect() as conn:
        runs = store.digest_runs_of(conn, scheduled.id)
        spec = store.campaign_spec_document(conn, "monthly-digest-2026-12-01")
    # The first digest carries the newest `digest.latest` (4) articles, newest first.
    assert len(runs) == 1 and runs[0]["outcome"] == "started"
    assert spec["articles"] == runs[0]["articles"] and len(runs[0]["articles"]) == 4
    backend = RecordingBackend()
    drain_outbox(ready, settings, backend)
    assert backend.delivered and backend.duplicates() == []
    parent = get_lifecycle(ready, "monthly-digest")
    assert parent.state == "scheduled"
    assert parent.scheduled_for == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    skipped = run_due_campaign(ready, settings, "monthly-digest", parent.scheduled_for)
    assert skipped.outcome == "skipped"
    assert "no new articles since the digest of 2026-12-01 09:00 Europe/London" in skipped.detail


def test_a_trigger_late_but_within_the_grace_window_is_sent_once(ready, settings):
    due = datetime.now(UTC) + timedelta(seconds=1)
    schedule_campaign(ready, settings, SLUG, due)
    thirty_minutes_late = due + timedelta(minutes=30)
    assert run_due_campaign(ready, settings, SLUG, thirty_minutes_late).outcome == "started"
    assert run_due_campaign(ready, settings, SLUG, thirty_minutes_late).outcome == "not scheduled"
    backend = RecordingBackend()
    drain_outbox(ready, settings, backend)
    assert len(backend.delivered) == len(_statuses(ready, SLUG))
    assert backend.duplicates() == []
