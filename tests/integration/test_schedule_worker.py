"""The worker's scheduler on a real database: one APScheduler trigger per scheduled campaign in
the apscheduler_jobs table, a late start marks a campaign missed, and feeds are polled over HTTP."""

import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import text

from pipeline.campaigns.actions import cancel_campaign, get_lifecycle
from pipeline.config import load_settings
from pipeline.store import campaign_states as store
from pipeline.store.articles import list_articles
from pipeline.worker.jobs import poll_feeds
from pipeline.worker.scheduler import (
    CAMPAIGN_JOB_PREFIX,
    REPORT_JOB_ID,
    WorkerContext,
    add_standing_jobs,
    build_scheduler,
    fire_campaign_job,
    housekeeping,
    reconcile_campaign_jobs,
    run_worker,
    stop_scheduler,
)
from tests.outbox_fakes import RecordingBackend
from tests.waiting import wait_for

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "content" / "feeds"
WAIT_LIMIT_SECONDS = 60


@pytest.fixture
def settings(workspace_db):
    return load_settings(workspace_db)


def _add_scheduled(engine, slug, when, now):
    with engine.begin() as conn:
        store.insert_campaign(
            conn, slug=slug, name=slug, origin="web", spec={"slug": slug}, spec_hash="0" * 64,
            state="scheduled", now=now, scheduled_for=when, approved_by="owner", approved_at=now,
        )  # fmt: skip


def test_triggers_follow_the_campaigns_table_and_live_in_the_database(engine, settings):
    now = datetime.now(UTC)
    first, second = now + timedelta(days=1), now + timedelta(days=2)
    _add_scheduled(engine, "one", first, now)
    _add_scheduled(engine, "two", second, now)
    _add_scheduled(engine, "overdue", now - timedelta(hours=2), now - timedelta(days=1))
    context = WorkerContext(engine, settings, "test-worker")
    scheduler = build_scheduler(context)
    scheduler.start(paused=True)
    try:
        add_standing_jobs(scheduler, settings)
        reconcile_campaign_jobs(scheduler, context)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert jobs[CAMPAIGN_JOB_PREFIX + "one"].trigger.run_date == first
        assert REPORT_JOB_ID in jobs
        # A campaign already past its time is decided at once, not given a trigger.
        assert CAMPAIGN_JOB_PREFIX + "overdue" not in jobs
        assert get_lifecycle(engine, "overdue").state == "missed"
        with engine.connect() as conn:
            stored = set(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
        assert stored == {CAMPAIGN_JOB_PREFIX + "one", CAMPAIGN_JOB_PREFIX + "two", REPORT_JOB_ID}
        later = first + timedelta(hours=3)
        with engine.begin() as conn:
            store.transition(conn, "one", ("scheduled",), "scheduled", now, scheduled_for=later)
        cancel_campaign(engine, "two", "owner")
        reconcile_campaign_jobs(scheduler, context)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert jobs[CAMPAIGN_JOB_PREFIX + "one"].trigger.run_date == later
        assert CAMPAIGN_JOB_PREFIX + "two" not in jobs
    finally:
        stop_scheduler(scheduler, context, wait=False)


def test_a_due_trigger_is_left_for_apscheduler_to_run_and_remove(engine, settings):
    """APScheduler removes a date trigger itself once it has run it. Housekeeping removing the
    same trigger at the same moment made one of the two removals raise JobLookupError, which
    killed APScheduler's own thread: a trigger already due is left alone (a stale one finds its
    campaign not due and does nothing). Stopping the scheduler with that trigger still due must
    not end its thread with the same error either (pytest fails the test if it does)."""
    now = datetime.now(UTC)
    _add_scheduled(engine, "moved", now + timedelta(days=1), now)
    context = WorkerContext(engine, settings, "test-worker")
    scheduler = build_scheduler(context)
    scheduler.start(paused=True)
    try:
        for slug, when in (
            ("moved", now - timedelta(seconds=1)),
            ("gone", now + timedelta(days=2)),
        ):
            scheduler.add_job(
                fire_campaign_job, DateTrigger(run_date=when), args=[slug],
                id=CAMPAIGN_JOB_PREFIX + slug,
            )  # fmt: skip
        reconcile_campaign_jobs(scheduler, context)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert jobs[CAMPAIGN_JOB_PREFIX + "moved"].trigger.run_date == now - timedelta(seconds=1)
        assert CAMPAIGN_JOB_PREFIX + "gone" not in jobs
    finally:
        stop_scheduler(scheduler, context, wait=False)
    assert get_lifecycle(engine, "moved").state == "scheduled"


def test_a_worker_started_two_hours_after_the_time_marks_the_campaign_missed(engine, settings):
    due = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    _add_scheduled(engine, "late-news", due, due - timedelta(days=1))
    backend = RecordingBackend()
    stop = threading.Event()
    with time_machine.travel(due + timedelta(hours=2), tick=True):
        worker = threading.Thread(
            target=run_worker,
            args=(settings, stop),
            kwargs={"engine": engine, "backend": backend, "tick_seconds": 0.1},
        )
        worker.start()
        try:
            wait_for(
                lambda: get_lifecycle(engine, "late-news").state != "scheduled",
                "a decision",
                seconds=WAIT_LIMIT_SECONDS,
            )
        finally:
            stop.set()
            worker.join()
    campaign = get_lifecycle(engine, "late-news")
    assert campaign.state == "missed"
    assert "2026-11-23 10:00 Europe/London" in campaign.state_reason
    assert "2 h" in campaign.state_reason
    assert backend.delivered == []


@pytest.fixture
def feed_server():
    handler = partial(SimpleHTTPRequestHandler, directory=str(FEEDS))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_feed_polling_imports_new_articles_once(engine, workspace_db, feed_server):
    config = workspace_db / "clinic.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[feeds]\nurls = ["{feed_server}/clinic-blog.rss"]\npoll_minutes = 5\n',
        encoding="utf-8",
    )
    settings = load_settings(workspace_db)
    with engine.connect() as conn:
        before = {article.slug for article in list_articles(conn)}
    first = poll_feeds(engine, settings)
    with engine.connect() as conn:
        after = {article.slug for article in list_articles(conn)}
    assert "stretching-after-a-long-run" in after - before
    assert first.startswith(f"feeds polled: {len(after - before)} new")
    assert poll_feeds(engine, settings).startswith("feeds polled: 0 new")


def test_a_broken_campaign_file_is_reported_once_not_on_every_tick(engine, settings, caplog):
    broken = settings.path("campaigns", "broken.yaml")
    broken.write_text("name: Broken\ntemplate: single\nsend_at: 12\n", encoding="utf-8")
    context = WorkerContext(engine, settings, "test-worker")
    scheduler = build_scheduler(context)
    scheduler.start(paused=True)
    try:
        with caplog.at_level("ERROR", logger="clinicmail.worker"):
            housekeeping(scheduler, context)
            housekeeping(scheduler, context)
    finally:
        stop_scheduler(scheduler, context, wait=False)
    reports = [r.getMessage() for r in caplog.records if "not synced" in r.getMessage()]
    assert len(reports) == 1
    assert "broken.yaml" in reports[0]
