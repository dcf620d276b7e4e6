"""A window of local days (the weekly report's week): what happened within it, per campaign and
segment. Sends count when they were handed to the provider, engagement on the local day it was
first seen, bookings when they were made; nothing outside the window."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from pipeline.metrics import ENGAGEMENT_FIGURES
from pipeline.models import BookingSums, MetricCounts
from pipeline.store.bookings import any_bookings, attributed_sums_booked_between
from pipeline.store.metrics import (
    campaigns_by_id,
    engagement_between,
    sends_sent_between,
    variants_by_id,
)


@dataclass(frozen=True)
class WindowRow:
    """One segment's (or everything's) figures within the window."""

    segment: str
    counts: MetricCounts
    bookings: BookingSums | None


@dataclass(frozen=True)
class WindowCampaign:
    slug: str
    name: str
    state: str
    started_at: datetime | None
    segments: tuple[WindowRow, ...]
    total: WindowRow


@dataclass(frozen=True)
class WindowFigures:
    first_day: date
    last_day: date
    segments: tuple[WindowRow, ...]
    total: WindowRow
    campaigns: tuple[WindowCampaign, ...]
    simulated: bool
    bookings_imported: bool


def local_bounds(first_day: date, last_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local days, as aware datetimes: a week across a DST change is 167 or
    169 hours long, which local midnights get right."""
    return (
        datetime.combine(first_day, time(0), zone),
        datetime.combine(last_day + timedelta(days=1), time(0), zone),
    )


def _row(segment: str, figures: dict[str, int], sums: BookingSums | None) -> WindowRow:
    counts = {name: figures.get(name, 0) for name in ("sent", *ENGAGEMENT_FIGURES)}
    return WindowRow(segment, MetricCounts(**counts), sums)


def window_figures(
    conn: Connection, first_day: date, last_day: date, *, zone: ZoneInfo
) -> WindowFigures:
    start, end = local_bounds(first_day, last_day, zone)
    figures: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for campaign_id, variant_id, count in sends_sent_between(conn, start, end):
        figures[(campaign_id, variant_id)]["sent"] += count
    simulated = False
    for campaign_id, variant_id, kind, is_simulated, count in engagement_between(
        conn, first_day, last_day
    ):
        if kind in ENGAGEMENT_FIGURES:
            figures[(campaign_id, variant_id)][kind] += count
            simulated = simulated or is_simulated
    imported = any_bookings(conn)
    booked = attributed_sums_booked_between(conn, start, end) if imported else {}
    for key, sums in booked.items():
        figures[key]
        simulated = simulated or sums.simulated
    variants = variants_by_id(conn, sorted({variant_id for _, variant_id in figures}))
    campaigns = campaigns_by_id(conn, sorted({campaign_id for campaign_id, _ in figures}))

    def rows_of(keys: list[tuple[int, int]]) -> tuple[tuple[WindowRow, ...], WindowRow]:
        by_segment: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        sums_of: dict[str, BookingSums] = defaultdict(BookingSums)
        for key in keys:
            segment = variants[key[1]].segment
            for name, value in figures[key].items():
                by_segment[segment][name] += value
            sums_of[segment] += booked.get(key, BookingSums())
        rows = tuple(
            _row(name, by_segment[name], sums_of[name] if imported else None)
            for name in sorted(by_segment)
        )
        total: dict[str, int] = defaultdict(int)
        for name in by_segment:
            for figure, value in by_segment[name].items():
                total[figure] += value
        total_sums = sum(sums_of.values(), BookingSums()) if imported else None
        return rows, _row("", total, total_sums)

    segments, total = rows_of(list(figures))
    shown = []
    for campaign in campaigns:
        campaign_rows, campaign_total = rows_of([key for key in figures if key[0] == campaign.id])
        shown.append(
            WindowCampaign(
                campaign.slug,
                campaign.name,
                campaign.state,
                campaign.started_at,
                campaign_rows,
                campaign_total,
            )
        )
    return WindowFigures(first_day, last_day, segments, total, tuple(shown), simulated, imported)
