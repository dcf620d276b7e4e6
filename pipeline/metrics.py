"""Campaign metrics: per campaign and segment, per local day, and the owner's overview. Sums
send statuses and the first-engagement counters the webhook keeps; never scans raw events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from pipeline.bookings.figures import figures_document
from pipeline.models import (
    METRIC_NAMES,
    BookingSums,
    CampaignMetrics,
    CampaignSummary,
    DayMetrics,
    MetricCounts,
    Overview,
    SegmentMetrics,
)
from pipeline.store.bookings import (
    any_bookings,
    attributed_sums_by_segment,
    attributed_sums_by_variant,
)
from pipeline.store.metrics import (
    campaign_by_slug,
    campaign_clicks,
    campaign_variants,
    campaigns_active_since,
    daily_engagement_counts,
    engagement_counts,
    segment_daily_engagement_counts,
    segment_engagement_since,
    segment_statuses_since,
    send_status_counts,
)
from pipeline.urls import normalise_url

# Which figure each send status adds to (besides the audience). A send that reached the
# provider stays "sent" whatever came of it later (delivered, bounced, dropped).
_STATUS_FIGURE = {
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "sent",
    "bounced": "sent",
    "dropped": "sent",
    "failed": "failed",
    "skipped": "skipped",
    "unknown": "unknown",
}
_UTC_ZONE = ZoneInfo("UTC")
# Figures that come from events (first engagement per send), not from send statuses.
ENGAGEMENT_FIGURES = (
    "delivered", "bounced", "dropped", "opens", "machine_opens", "clicks", "booking_clicks",
    "unsubscribes", "complaints",
)  # fmt: skip
# What a day of the series shows: engagement first seen that day ("processed": accepted).
DAILY_FIGURES = ("processed", *ENGAGEMENT_FIGURES)


def _counts(figures: Mapping[str, int]) -> MetricCounts:
    return MetricCounts(**{name: figures.get(name, 0) for name in METRIC_NAMES})


def _add_statuses(figures: dict[str, int], status: str, count: int) -> None:
    figures["audience"] += count
    figure = _STATUS_FIGURE.get(status)
    if figure is not None:
        figures[figure] += count


def _sum(counts: Iterable[MetricCounts]) -> MetricCounts:
    total: dict[str, int] = defaultdict(int)
    for counts_of_one in counts:
        for name, value in counts_of_one.as_dict().items():
            total[name] += value
    return _counts(total)


def campaign_metrics(conn: Connection, campaign_slug: str) -> CampaignMetrics:
    """Every figure of one campaign, per segment (in variant order) and in total. Raises
    NotFoundError for an unknown slug."""
    campaign = campaign_by_slug(conn, campaign_slug)
    variants = campaign_variants(conn, campaign.id)
    figures: dict[int, dict[str, int]] = {variant.id: defaultdict(int) for variant in variants}
    for variant_id, status, count in send_status_counts(conn, campaign.id):
        _add_statuses(figures.setdefault(variant_id, defaultdict(int)), status, count)
    simulated = False
    for variant_id, kind, is_simulated, count in engagement_counts(conn, campaign.id):
        if kind in ENGAGEMENT_FIGURES:
            figures.setdefault(variant_id, defaultdict(int))[kind] += count
            simulated = simulated or is_simulated
    booked = attributed_sums_by_variant(conn, [campaign.id]) if any_bookings(conn) else None
    segments = tuple(
        SegmentMetrics(
            variant.segment,
            variant.segment_code,
            _counts(figures[variant.id]),
            None if booked is None else booked.get((campaign.id, variant.id), BookingSums()),
        )
        for variant in variants
    )
    return CampaignMetrics(
        campaign=campaign.slug,
        name=campaign.name,
        state=campaign.state,
        scheduled_for=campaign.scheduled_for,
        started_at=campaign.started_at,
        segments=segments,
        totals=_sum(segment.counts for segment in segments),
        simulated=simulated or bool(booked and any(b.simulated for b in booked.values())),
        bookings=None if booked is None else sum(booked.values(), BookingSums()),
    )


def campaign_document(metrics: CampaignMetrics) -> dict[str, Any]:
    """`clinicmail campaign status --json`: campaign, state, scheduled_for, segments, totals
    (each with counts, rates and booking figures: see pipeline.bookings.figures)."""
    return {
        "campaign": metrics.campaign,
        "state": metrics.state,
        "scheduled_for": metrics.scheduled_for.isoformat() if metrics.scheduled_for else None,
        "segments": [
            {"segment": segment.segment, **figures_document(segment.counts, segment.bookings)}
            for segment in metrics.segments
        ],
        "totals": figures_document(metrics.totals, metrics.bookings),
    }


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()


def daily_series(
    conn: Connection, campaign_slug: str | None, days: int, *, today: date
) -> list[DayMetrics]:
    """The last `days` local days up to `today` (oldest first, days without events included),
    for one campaign or all: how many sends had each engagement first that day."""
    if days < 1:
        raise ValueError("days must be at least 1")
    first_day = today - timedelta(days=days - 1)
    campaign_id = None if campaign_slug is None else campaign_by_slug(conn, campaign_slug).id
    by_day: dict[date, dict[str, int]] = {
        first_day + timedelta(days=offset): dict.fromkeys(DAILY_FIGURES, 0)
        for offset in range(days)
    }
    for day, kind, count in daily_engagement_counts(conn, campaign_id, first_day, today):
        if kind in by_day[day]:
            by_day[day][kind] += count
    return [DayMetrics(day, counts) for day, counts in sorted(by_day.items())]


def segment_daily_series(
    conn: Connection, days: int, *, today: date
) -> dict[str, list[DayMetrics]]:
    """daily_series per segment name across all campaigns (segments with any engagement in the
    period), for trend charts."""
    if days < 1:
        raise ValueError("days must be at least 1")
    first_day = today - timedelta(days=days - 1)
    all_days = [first_day + timedelta(days=offset) for offset in range(days)]
    by_segment: dict[str, dict[date, dict[str, int]]] = {}
    for segment, day, kind, count in segment_daily_engagement_counts(conn, first_day, today):
        if kind not in DAILY_FIGURES:
            continue
        if segment not in by_segment:
            by_segment[segment] = {day: dict.fromkeys(DAILY_FIGURES, 0) for day in all_days}
        by_segment[segment][day][kind] += count
    return {
        segment: [DayMetrics(day, counts) for day, counts in sorted(days_of.items())]
        for segment, days_of in sorted(by_segment.items())
    }


def link_without_query(url: str) -> str:
    """A clicked address without its query and fragment: UTM parameters and per-recipient
    tokens would otherwise make every click a different link."""
    parts = urlsplit(normalise_url(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def top_links(conn: Connection, campaign_slug: str, limit: int = 10) -> list[tuple[str, int]]:
    """A campaign's most clicked links (without query), with how many sends clicked each, most
    first. The booking page is among them under its own address."""
    campaign = campaign_by_slug(conn, campaign_slug)
    senders: dict[str, set[int]] = defaultdict(set)
    for url, send_id in campaign_clicks(conn, campaign.id):
        senders[link_without_query(url)].add(send_id)
    ranked = sorted(((url, len(ids)) for url, ids in senders.items()), key=lambda x: (-x[1], x[0]))
    return ranked[:limit]


def overview(conn: Connection, since: date, *, zone: ZoneInfo = _UTC_ZONE) -> Overview:
    """The owner's overview from local day `since` to now: per segment across campaigns (sends
    of campaigns started since then; engagement first seen since then), and the campaigns."""
    started = datetime.combine(since, time(0), zone).astimezone(UTC)
    figures: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for segment, status, count in segment_statuses_since(conn, started):
        _add_statuses(figures[segment], status, count)
    simulated = False
    for segment, kind, is_simulated, count in segment_engagement_since(conn, since):
        if kind in ENGAGEMENT_FIGURES:
            figures[segment][kind] += count
            simulated = simulated or is_simulated
    active = campaigns_active_since(conn, started, since)
    campaigns = tuple(
        CampaignSummary(row.slug, row.name, row.state, row.started_at) for row in active
    )
    booked = None
    if any_bookings(conn):
        booked = attributed_sums_by_segment(conn, [row.id for row in active])
        for key in booked:
            figures.setdefault(key, defaultdict(int))
    segments = tuple(
        SegmentMetrics(
            segment,
            code,
            _counts(values),
            None if booked is None else booked.get((segment, code), BookingSums()),
        )
        for (segment, code), values in sorted(figures.items())
    )
    return Overview(
        since=since,
        segments=segments,
        totals=_sum(segment.counts for segment in segments),
        campaigns=campaigns,
        simulated=simulated,
        bookings=None if booked is None else sum(booked.values(), BookingSums()),
    )


def rate(value: float | None) -> str:
    """A rate as staff read it: "12.5%", or "–" when there is nothing to divide by."""
    return "–" if value is None else f"{value:.1%}"
