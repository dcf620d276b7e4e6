"""The campaigns list's figures and warnings, and a month calendar of what goes out when:
scheduled campaigns, campaigns sent, and recurring ones (digests) at their next occurrences."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.campaigns.slots import readable_moment
from pipeline.models import CampaignLifecycle
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.store.bookings import any_bookings, attributed_sums_by_variant
from pipeline.store.metrics import engagement_by_variant
from pipeline.timerules import next_occurrence
from pipeline.web.staff.rendering import render

router = APIRouter(include_in_schema=False)
# Recurring campaigns shown at most this many times a month (an hourly cron would fill it).
MAX_OCCURRENCES = 31


def past_time_warning(campaign: CampaignLifecycle, now: datetime, zone) -> str | None:
    """A draft or approved campaign whose intended time has gone by says so."""
    due = campaign.scheduled_for or campaign.send_at
    if campaign.state not in ("draft", "approved") or campaign.cron or due is None or due > now:
        return None
    return (
        f"Its time ({readable_moment(due, now, zone)}) has passed: choose a new one when you "
        "schedule it."
    )


def list_figures(conn, campaigns: Sequence[CampaignLifecycle]) -> dict[str, dict[str, Any]]:
    """{slug: figures} of the campaigns that have started: delivered, open rate, click rate,
    booking clicks and credited bookings (None when no bookings file was ever imported). From
    the engagement counters and the attributed bookings, as the dashboard's comparison reads
    them: the same few grouped queries however many campaigns the list holds."""
    started = {c.id: c.slug for c in campaigns if c.started_at is not None}
    counts: dict[int, dict[str, int]] = {campaign_id: defaultdict(int) for campaign_id in started}
    for campaign_id, _, _, kind, _, count in engagement_by_variant(conn, list(started)):
        counts[campaign_id][kind] += count
    booked: dict[int, int] | None = None
    if any_bookings(conn):
        booked = defaultdict(int)
        for (campaign_id, _), sums in attributed_sums_by_variant(conn, list(started)).items():
            booked[campaign_id] += sums.bookings
    figures = {}
    for campaign_id, slug in started.items():
        delivered = counts[campaign_id]["delivered"]
        figures[slug] = {
            "delivered": delivered,
            "open_rate": counts[campaign_id]["opens"] / delivered if delivered else None,
            "click_rate": counts[campaign_id]["clicks"] / delivered if delivered else None,
            "booking_clicks": counts[campaign_id]["booking_clicks"],
            "bookings": None if booked is None else booked[campaign_id],
        }
    return figures


@dataclass(frozen=True)
class CalendarEntry:
    slug: str
    name: str
    kind: str  # scheduled | sent | recurring
    at: datetime


def _month(raw: str, today: date) -> date:
    try:
        year, month = (int(part) for part in raw.split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def month_entries(
    campaigns: list[CampaignLifecycle], first: date, zone, now: datetime
) -> list[CalendarEntry]:
    start = datetime.combine(first, time(0), tzinfo=zone)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    end = datetime.combine(following, time(0), tzinfo=zone)
    entries = []
    for c in campaigns:
        if c.cron and c.state not in ("cancelled", "failed"):
            moment = next_occurrence(c.cron, zone, max(start, now) - timedelta(seconds=1))
            for _ in range(MAX_OCCURRENCES):
                if moment >= end:
                    break
                entries.append(CalendarEntry(c.slug, c.name, "recurring", moment))
                moment = next_occurrence(c.cron, zone, moment)
        if c.started_at is not None and start <= c.started_at < end:
            entries.append(CalendarEntry(c.slug, c.name, "sent", c.started_at))
        elif (
            c.state in ("scheduled", "paused")
            and c.scheduled_for
            and start <= c.scheduled_for < end
        ):
            entries.append(CalendarEntry(c.slug, c.name, "scheduled", c.scheduled_for))
    return sorted(entries, key=lambda entry: entry.at)


@router.get("/campaigns/calendar")
def calendar_page(request: Request, month: str = "") -> Response:
    zone = request.app.state.settings.clinic.zone
    now = utcnow()
    today = now.astimezone(zone).date()
    first = _month(month, today)
    with request.app.state.engine.connect() as conn:
        campaigns = lifecycle_store.all_campaigns(conn)
    entries = month_entries(campaigns, first, zone, now)
    by_day: dict[date, list[CalendarEntry]] = {}
    for entry in entries:
        by_day.setdefault(entry.at.astimezone(zone).date(), []).append(entry)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    context = {
        "first": first,
        "weeks": weeks,
        "by_day": by_day,
        "today": today,
        "zone": zone,
        "previous": f"{previous:%Y-%m}",
        "following": f"{following:%Y-%m}",
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    return render(request, "campaign_calendar.html", context)
