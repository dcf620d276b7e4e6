"""The worker: every worker drains the outbox; the one holding the scheduler lock also runs
APScheduler 3.11 (SQLAlchemy job store, table apscheduler_jobs) to start campaigns on time.

A standby retries the lock every `takeover_seconds` and takes over when the active worker dies.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pipeline.campaigns.actions import hold_for_quiet_hours
from pipeline.campaigns.sync import campaign_files_fingerprint, sync_campaigns
from pipeline.config import Settings
from pipeline.delivery.backends import Backend, open_outbox_backend
from pipeline.errors import ClinicmailError
from pipeline.outbox import default_worker_id, drain_outbox
from pipeline.report import send_weekly_report
from pipeline.store import campaign_states as store
from pipeline.store import open_engine, utcnow
from pipeline.store.tables import SCHEDULER_JOBS_TABLE
from pipeline.timerules import cron_trigger, sending_allowed
from pipeline.worker.guard import SchedulerGuard
from pipeline.worker.jobs import overdue_campaigns, poll_feeds, run_due_campaign

if TYPE_CHECKING:
    from sqlalchemy import Engine


log = logging.getLogger("clinicmail.worker")

CAMPAIGN_JOB_PREFIX = "campaign:"
REPORT_JOB_ID = "report:weekly"
FEEDS_JOB_ID = "feeds:poll"
# A campaign trigger this close to its time (or past it) is APScheduler's to run and remove.
TRIGGER_SETTLING = timedelta(seconds=5)


@dataclass
class WorkerContext:
    """What the job functions need; APScheduler persists only the job's name and its slug."""

    engine: Engine
    settings: Settings
    worker_id: str
    clock: Callable[[], datetime] = utcnow
    campaign_files: str | None = field(default=None)
    job_store_engine: Engine | None = field(default=None)


# APScheduler stores jobs by a textual reference to a module-level function, so the functions
# find the running worker here. A process runs at most one active scheduler.
_active: WorkerContext | None = None


def fire_campaign_job(slug: str) -> None:
    """APScheduler's entry point for a campaign trigger (stored by reference)."""
    if _active is not None:
        fire_campaign(_active, slug)


def fire_campaign(context: WorkerContext, slug: str) -> None:
    report = run_due_campaign(context.engine, context.settings, slug, context.clock())
    log.info("trigger %s: %s %s", slug, report.outcome, report.detail)


def weekly_report_job() -> None:
    context = _active
    if context is None:
        return

    try:
        send_weekly_report(context.engine, context.settings, now=context.clock())
    except ClinicmailError as error:
        log.error("weekly report not sent: %s", error)


def poll_feeds_job() -> None:
    context = _active
    if context is not None and context.settings.feeds.urls:
        poll_feeds(context.engine, context.settings)


class _Scheduler(BackgroundScheduler):
    """APScheduler's BackgroundScheduler without the pass its loop thread makes over due jobs
    after shutdown: that pass cannot submit them (the executors are gone), then fails to remove
    them and ends the thread with JobLookupError."""

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()


def build_scheduler(context: WorkerContext) -> BackgroundScheduler:
    """APScheduler with its job store in the clinic's database. misfire_grace_time is None
    because lateness is ours to judge: a campaign trigger past the grace window marks the
    campaign missed instead of being dropped silently."""
    # The job store gets an engine of its own: APScheduler disposes it at shutdown.
    context.job_store_engine = open_engine(context.settings.database_url)
    job_store = SQLAlchemyJobStore(engine=context.job_store_engine, tablename=SCHEDULER_JOBS_TABLE)
    return _Scheduler(
        jobstores={"default": job_store},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=context.settings.clinic.zone,
    )


def stop_scheduler(scheduler: BackgroundScheduler, context: WorkerContext, wait: bool) -> None:
    """Shut APScheduler down and close its job store's connections."""
    scheduler.shutdown(wait=wait)
    if context.job_store_engine is not None:
        context.job_store_engine.dispose()
        context.job_store_engine = None


def add_standing_jobs(scheduler: BackgroundScheduler, settings: Settings) -> None:
    """The owner's weekly report and feed polling, from clinic.toml."""
    scheduler.add_job(
        weekly_report_job,
        cron_trigger(settings.report.cron, settings.clinic.zone, where="[report] cron"),
        id=REPORT_JOB_ID,
        replace_existing=True,
        misfire_grace_time=settings.sending.grace_minutes * 60 or 1,
    )
    if settings.feeds.urls:
        scheduler.add_job(
            poll_feeds_job,
            IntervalTrigger(minutes=settings.feeds.poll_minutes),
            id=FEEDS_JOB_ID,
            replace_existing=True,
        )
    else:
        _remove_job(scheduler, FEEDS_JOB_ID)


def reconcile_campaign_jobs(scheduler: BackgroundScheduler, context: WorkerContext) -> None:
    """Make APScheduler's campaign triggers match the campaigns table: one date trigger per
    scheduled campaign at its scheduled_for, none for any other. Campaigns already due are run
    at once (a late one is marked missed by the job itself)."""
    now = context.clock()
    with context.engine.connect() as conn:
        scheduled = {c.slug: c for c in store.campaigns_in_states(conn, ("scheduled",))}
    for job in scheduler.get_jobs():
        if not job.id.startswith(CAMPAIGN_JOB_PREFIX):
            continue
        if job.next_run_time is not None and job.next_run_time <= now + TRIGGER_SETTLING:
            # APScheduler removes a date trigger itself once it has run it; removing it here at
            # the same moment makes one removal raise JobLookupError, which ends APScheduler's
            # thread. A stale trigger that runs finds its campaign not due and does nothing.
            continue
        slug = job.id.removeprefix(CAMPAIGN_JOB_PREFIX)
        wanted = scheduled.get(slug)
        if wanted is None or not _same_instant(job.trigger, wanted.scheduled_for):
            _remove_job(scheduler, job.id)
    existing = {job.id for job in scheduler.get_jobs()}
    for campaign in overdue_campaigns(context.engine, now):
        fire_campaign(context, campaign.slug)
        scheduled.pop(campaign.slug, None)
    for slug, campaign in scheduled.items():
        job_id = CAMPAIGN_JOB_PREFIX + slug
        if job_id not in existing and campaign.scheduled_for is not None:
            scheduler.add_job(
                fire_campaign_job,
                DateTrigger(run_date=campaign.scheduled_for),
                args=[slug],
                id=job_id,
                replace_existing=True,
            )


def _same_instant(trigger, moment: datetime | None) -> bool:
    return isinstance(trigger, DateTrigger) and moment is not None and trigger.run_date == moment


def _remove_job(scheduler: BackgroundScheduler, job_id: str) -> None:
    with contextlib.suppress(JobLookupError):
        scheduler.remove_job(job_id)


def housekeeping(scheduler: BackgroundScheduler, context: WorkerContext) -> None:
    """One tick of the active scheduler: sync changed campaign files, hold or release campaigns
    for quiet hours, and bring the triggers in line with the database."""
    fingerprint = campaign_files_fingerprint(context.settings)
    if fingerprint != context.campaign_files:
        # segments.yaml may be among the changed files: what runs from here on reads it again.
        context.settings = context.settings.with_segments_reread()
        try:
            report = sync_campaigns(context.engine, context.settings, now=context.clock())
        except ClinicmailError as error:
            log.error("campaign files not synced: %s", error)
        else:
            for line in report.refused:
                log.error("campaign file change refused: %s", line)
        # Remembered either way: a broken file is reported once, not on every tick.
        context.campaign_files = fingerprint
    now = context.clock()
    changed = hold_for_quiet_hours(context.engine, context.settings, now)
    if changed:
        log.info("quiet hours: %s", ", ".join(changed))
    reconcile_campaign_jobs(scheduler, context)


def drain_loop(
    engine: Engine,
    settings: Settings,
    backend: Backend,
    worker_id: str,
    stop: threading.Event,
    poll_seconds: float,
) -> None:
    """Every worker, active or standby, sends what is in the outbox when sending is allowed."""

    while not stop.is_set():
        if sending_allowed(utcnow(), settings) is True:
            try:
                drain_outbox(engine, settings, backend, worker_id=worker_id, stop=stop)
            except ClinicmailError as error:
                log.error("outbox drain stopped: %s", error)
            except Exception:
                # A worker outlives a database or network blip; it tries again next time.
                log.exception("outbox drain failed; trying again")
        stop.wait(poll_seconds)


def run_worker(
    settings: Settings,
    stop_event: threading.Event,
    *,
    worker_id: str | None = None,
    engine: Engine | None = None,
    backend: Backend | None = None,
    tick_seconds: float = 5.0,
    takeover_seconds: float = 15.0,
    on_state: Callable[[str], None] | None = None,
) -> None:
    """Run a worker until `stop_event` is set: drain the outbox, and be the active scheduler
    whenever this worker holds the lock (trying again every `takeover_seconds` while standby).
    `on_state` hears "active" and "standby" as the role changes."""
    global _active

    worker_id = worker_id or default_worker_id()
    own_engine = engine is None
    engine = engine or open_engine(settings.database_url)
    own_backend = backend is None
    backend = backend or open_outbox_backend(settings)
    guard = SchedulerGuard(engine, settings)
    context = WorkerContext(engine, settings, worker_id)
    drainer = threading.Thread(
        target=drain_loop,
        args=(engine, settings, backend, worker_id, stop_event, tick_seconds),
        name="outbox-drain",
        daemon=True,
    )
    drainer.start()
    scheduler: BackgroundScheduler | None = None
    last_attempt = float("-inf")
    announce = on_state or (lambda role: log.info("worker %s is %s", worker_id, role))
    announce("standby")
    try:
        while not stop_event.is_set():
            if scheduler is None:
                if time.monotonic() - last_attempt >= takeover_seconds:
                    last_attempt = time.monotonic()
                    if guard.try_acquire():
                        _active = context
                        context.campaign_files = None
                        scheduler = build_scheduler(context)
                        scheduler.start()
                        add_standing_jobs(scheduler, settings)
                        announce("active")
            elif not guard.still_held():
                log.error("worker %s lost the scheduler lock; standing by", worker_id)
                stop_scheduler(scheduler, context, wait=False)
                scheduler, _active = None, None
                announce("standby")
            if scheduler is not None:
                try:
                    housekeeping(scheduler, context)
                except Exception:
                    log.exception("scheduler housekeeping failed; trying again")
            stop_event.wait(tick_seconds)
    finally:
        if scheduler is not None:
            stop_scheduler(scheduler, context, wait=True)
            _active = None
        guard.release()
        drainer.join()
        if own_backend:
            backend.close()
        if own_engine:
            engine.dispose()
