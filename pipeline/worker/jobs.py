"""What the active scheduler does when a trigger fires: start a due campaign (or mark it missed),
run one digest occurrence, poll feeds. Each takes `now`, so tests travel in time instead of
waiting, and each is safe to run twice: the state transitions decide who wins."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.campaigns.actions import fail_campaign, mark_missed
from pipeline.config import Settings
from pipeline.content import import_sources
from pipeline.errors import ClinicmailError
from pipeline.models import CampaignLifecycle
from pipeline.outbox import start_campaign
from pipeline.store import campaign_states as store
from pipeline.timerules import beyond_grace, describe_delay
from pipeline.worker.digests import run_digest_occurrence
from pipeline.worker.firing import FireReport

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("clinicmail.scheduler")


def run_due_campaign(engine: Engine, settings: Settings, slug: str, now: datetime) -> FireReport:
    """The trigger for `slug` fired at `now`: start it when it is scheduled and due within the
    grace window; mark it missed when it is later than that; otherwise do nothing."""
    with engine.connect() as conn:
        campaign = store.find_campaign(conn, slug)
    if campaign is None or campaign.state != "scheduled" or campaign.scheduled_for is None:
        state = campaign.state if campaign else "gone"
        return FireReport(slug, "not scheduled", f"it is {state}")
    if campaign.scheduled_for > now:
        return FireReport(slug, "not due", f"due {campaign.scheduled_for.isoformat()}")
    if campaign.cron:
        return run_digest_occurrence(engine, settings, campaign, now)
    return start_one_off(engine, settings, campaign, now)


def start_one_off(
    engine: Engine, settings: Settings, campaign: CampaignLifecycle, now: datetime
) -> FireReport:
    assert campaign.scheduled_for is not None
    if beyond_grace(campaign.scheduled_for, now, settings.sending.grace_minutes):
        if mark_missed(engine, settings, campaign, now):
            late = describe_delay(now - campaign.scheduled_for)
            log.warning("campaign %s missed: %s late, beyond the grace window", campaign.slug, late)
            return FireReport(campaign.slug, "missed", late)
        return FireReport(campaign.slug, "not scheduled", "another worker moved it first")

    try:
        report = start_campaign(engine, settings, campaign.slug, now=now)
    except ClinicmailError as error:
        fail_campaign(engine, campaign.slug, f"could not start: {error}", now)
        log.error("campaign %s failed to start: %s", campaign.slug, error)
        return FireReport(campaign.slug, "failed", str(error))
    if not report.started:
        return FireReport(campaign.slug, "already started")
    log.info("campaign %s started: %d recipients", campaign.slug, report.audience)
    return FireReport(campaign.slug, "started", f"{report.audience} recipients")


def overdue_campaigns(engine: Engine, now: datetime) -> list[CampaignLifecycle]:
    """Scheduled campaigns whose time has come (the scheduler fires these without waiting)."""
    with engine.connect() as conn:
        scheduled = store.campaigns_in_states(conn, ("scheduled",))
    return [c for c in scheduled if c.scheduled_for is not None and c.scheduled_for <= now]


def poll_feeds(engine: Engine, settings: Settings) -> str:
    """Import new articles from the configured RSS/Atom feeds; one feed's failure is logged and
    does not stop the others."""

    added = updated = 0
    for url in settings.feeds.urls:
        try:
            report = import_sources(engine, settings, [url])
        except ClinicmailError as error:
            log.warning("feed %s not imported: %s", url, error)
            continue
        added += len(report.added)
        updated += len(report.updated)
    summary = f"feeds polled: {added} new, {updated} updated article(s)"
    log.info(summary)
    return summary
