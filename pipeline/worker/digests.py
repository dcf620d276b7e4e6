"""Recurring digests: each occurrence gathers the articles published since the previous digest
went out, becomes its own campaign (`<slug>-YYYY-MM-DD`) and is recorded in digest_runs, whether
it was sent, skipped for want of new articles, or missed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pipeline.campaigns.actions import fail_campaign
from pipeline.config import Settings
from pipeline.errors import ClinicmailError
from pipeline.models import Article, CampaignLifecycle
from pipeline.outbox import start_campaign
from pipeline.store import campaign_states as store
from pipeline.store.articles import articles_published_since
from pipeline.timerules import (
    beyond_grace,
    describe_delay,
    format_local,
    next_occurrence,
)
from pipeline.worker.firing import FireReport

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine


log = logging.getLogger("clinicmail.scheduler")

# How many articles the first digest carries when its file sets no digest_latest.
DEFAULT_DIGEST_SIZE = 5


def occurrence_slug(slug: str, occurrence_at: datetime, cron: str, zone: ZoneInfo) -> str:
    """`<slug>-YYYY-MM-DD`; with `-HHMM` too when the cron fires more than once a day."""
    local = occurrence_at.astimezone(zone)
    following = next_occurrence(cron, zone, occurrence_at).astimezone(zone)
    if following.date() == local.date():
        return f"{slug}-{local:%Y-%m-%d-%H%M}"
    return f"{slug}-{local:%Y-%m-%d}"


def new_articles_for_digest(
    conn: Connection,
    campaign_id: int,
    occurrence_at: datetime,
    zone: ZoneInfo,
    limit: int | None,
) -> list[Article]:
    """The articles published since the previous digest went out and not already in one, up to
    the occurrence's own day; the first digest takes the newest `limit` articles.

    Articles carry a publication date, not a time, so "since" is the previous digest's local
    date, and articles of that day that it already carried are left out: exact either way."""
    previous = store.last_started_digest(conn, campaign_id)
    last_day = occurrence_at.astimezone(zone).date()
    if previous is None:
        candidates = articles_published_since(conn, None, limit or DEFAULT_DIGEST_SIZE)
        return [a for a in candidates if a.published is not None and a.published <= last_day]
    since_day = previous[0].astimezone(zone).date()
    day_start = datetime.combine(since_day, time(0), tzinfo=zone).astimezone(UTC)
    carried = store.digested_articles_since(conn, campaign_id, day_start)
    fresh = [
        article
        for article in articles_published_since(conn, since_day)
        if article.slug not in carried
        and article.published is not None
        and article.published <= last_day
    ]
    return fresh[:limit] if limit else fresh


def run_digest_occurrence(
    engine: Engine, settings: Settings, parent: CampaignLifecycle, now: datetime
) -> FireReport:
    """Claim the parent's due occurrence (advancing it to the next one), then send it as its own
    campaign, or record why not. Only the actor whose UPDATE moves scheduled_for on runs it."""

    assert parent.cron is not None and parent.scheduled_for is not None
    zone = settings.clinic.zone
    due = parent.scheduled_for
    following = next_occurrence(parent.cron, zone, max(now, due))
    late = beyond_grace(due, now, settings.sending.grace_minutes)
    with engine.begin() as conn:
        claimed = store.transition(
            conn, parent.slug, ("scheduled",), "scheduled", now,
            expect={"scheduled_for": due}, scheduled_for=following,
        )  # fmt: skip
        if not claimed:
            return FireReport(parent.slug, "not scheduled", "another worker ran this occurrence")
        if late:
            reason = (
                f"the digest due {format_local(due, zone)} was missed: no worker ran it until "
                f"{describe_delay(now - due)} later, beyond the grace window; next: "
                f"{format_local(following, zone)}"
            )
            _record(conn, parent, due, "missed", reason, now)
            return FireReport(parent.slug, "missed", reason)
        document = store.campaign_spec_document(conn, parent.slug) or {}
        articles = new_articles_for_digest(
            conn, parent.id, due, zone, document.get("digest_latest")
        )
        if not articles:
            previous = store.last_started_digest(conn, parent.id)
            since = f"the digest of {format_local(previous[0], zone)}" if previous else "ever"
            reason = (
                f"the digest due {format_local(due, zone)} was skipped: no new articles since "
                f"{since}; next: {format_local(following, zone)}"
            )
            _record(conn, parent, due, "skipped", reason, now)
            log.info(reason)
            return FireReport(parent.slug, "skipped", reason)
        slug = occurrence_slug(parent.slug, due, parent.cron, zone)
        occurrence_id = store.insert_campaign(
            conn,
            slug=slug,
            name=f"{parent.name} ({due.astimezone(zone):%d %b %Y})",
            origin="digest",
            spec=occurrence_spec(document, slug, due, [a.slug for a in articles]),
            spec_hash=parent.spec_hash,
            state="approved",
            now=now,
            scheduled_for=due,
            approved_by=parent.approved_by,
            approved_at=parent.approved_at,
            state_reason=f"occurrence of the recurring campaign {parent.slug}",
        )
        if occurrence_id is None:
            return FireReport(parent.slug, "not scheduled", f"{slug} exists already")
        store.record_digest_run(
            conn, campaign_id=parent.id, occurrence_at=due, outcome="started", now=now,
            articles=[a.slug for a in articles], occurrence_campaign_id=occurrence_id,
        )  # fmt: skip

    try:
        report = start_campaign(engine, settings, slug, now=now)
    except ClinicmailError as error:
        fail_campaign(engine, slug, f"could not start: {error}", now)
        return FireReport(slug, "failed", str(error))
    log.info("digest %s started with %d article(s)", slug, len(articles))
    return FireReport(slug, "started", f"{len(articles)} article(s), {report.audience} recipients")


def occurrence_spec(
    parent_document: dict, slug: str, due: datetime, article_slugs: list[str]
) -> dict:
    """The parent's stored spec made into a one-off: its own slug, the occurrence time and the
    exact articles gathered, no recurrence."""
    return {
        **parent_document,
        "slug": slug,
        "cron": None,
        "send_at": due.isoformat(),
        "article": None,
        "articles": article_slugs,
    }


def _record(
    conn: Connection,
    parent: CampaignLifecycle,
    due: datetime,
    outcome: str,
    reason: str,
    now: datetime,
) -> None:
    store.record_digest_run(
        conn, campaign_id=parent.id, occurrence_at=due, outcome=outcome, reason=reason, now=now
    )
    store.transition(conn, parent.slug, ("scheduled",), "scheduled", now, state_reason=reason)
