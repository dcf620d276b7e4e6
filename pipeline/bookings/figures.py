"""The owner's figures: rates (each says what it is out of) and booking figures, as one
document shared by `campaign status --json`, `metrics --json`, the API and the pages."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from pipeline.config import Settings
from pipeline.models import BookingSums, DayMetrics, MetricCounts
from pipeline.store.bookings import (
    AttributionKey,
    attributed_bookings_between,
    attribution_is_stale,
    refresh_derived,
)

# Each rate: (key, numerator, denominator, what staff read). The denominator is in the name
# shown, so no rate is a bare percentage.
RATES = (
    ("open_rate", "opens", "delivered", "Open rate (people, of delivered)"),
    ("click_rate", "clicks", "delivered", "Click rate (of delivered)"),
    ("booking_click_rate", "booking_clicks", "delivered", "Booking-click rate (of delivered)"),
    ("unsubscribe_rate", "unsubscribes", "delivered", "Unsubscribe rate (of delivered)"),
    ("complaint_rate", "complaints", "delivered", "Complaint rate (of delivered)"),
    ("bounce_rate", "bounced", "delivered+bounced", "Bounce rate (of delivered + bounced)"),
)
BOOKING_KEYS = (
    "bookings", "cancelled", "no_shows", "new_clients", "returning_clients", "revenue",
    "bookings_per_1000_delivered",
)  # fmt: skip
NO_BOOKINGS = "no bookings imported"


def attribution_key(settings: Settings) -> AttributionKey:
    return AttributionKey(settings.attribution.model, settings.attribution.window_days)


def ensure_attribution(engine: Engine, settings: Settings) -> None:
    """Redo the attribution of bookings credited under another model or window than the
    settings name (clinic.toml changed since), before figures are read."""
    key = attribution_key(settings)
    with engine.begin() as conn:
        if attribution_is_stale(conn, key):
            refresh_derived(conn, key)


def _denominator(counts: MetricCounts, name: str) -> int:
    return sum(getattr(counts, part) for part in name.split("+"))


def rates(counts: MetricCounts) -> dict[str, float | None]:
    """Each rate as a fraction (0.012 is 1.2%), None when there is nothing to divide by."""
    result: dict[str, float | None] = {}
    for key, numerator, denominator, _ in RATES:
        base = _denominator(counts, denominator)
        result[key] = getattr(counts, numerator) / base if base else None
    return result


def booking_figures(sums: BookingSums | None, delivered: int) -> dict[str, Any]:
    """Booking figures, all None with `bookings_imported` false when no bookings file was ever
    imported: unknown is not zero. Revenue is in the booking system's currency units."""
    if sums is None:
        return {"bookings_imported": False, **dict.fromkeys(BOOKING_KEYS)}
    return {
        "bookings_imported": True,
        "bookings": sums.bookings,
        "cancelled": sums.cancelled,
        "no_shows": sums.no_shows,
        "new_clients": sums.new_clients,
        "returning_clients": sums.bookings - sums.new_clients,
        "revenue": round(sums.revenue_cents / 100, 2),
        "bookings_per_1000_delivered": (
            round(sums.bookings * 1000 / delivered, 1) if delivered else None
        ),
    }


def figures_document(counts: MetricCounts, sums: BookingSums | None) -> dict[str, Any]:
    """Counts, rates and booking figures of one row (a segment, a campaign, the total)."""
    return {**counts.as_dict(), **rates(counts), **booking_figures(sums, counts.delivered)}


def with_bookings(conn: Connection, series: list[DayMetrics], zone: ZoneInfo) -> list[DayMetrics]:
    """The series with each local day's attributed bookings (by when they were booked)."""
    if not series:
        return series
    first = datetime.combine(series[0].day, time(0), zone)
    end = datetime.combine(series[-1].day + timedelta(days=1), time(0), zone)
    per_day: dict[date, int] = defaultdict(int)
    for booked_at, count in attributed_bookings_between(conn, first, end):
        per_day[booked_at.astimezone(zone).date()] += count
    return [DayMetrics(day.day, {**day.counts, "bookings": per_day[day.day]}) for day in series]
