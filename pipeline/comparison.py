"""The owner's comparison: one row per campaign of the period (all segments, or one), with
delivered, rates, booking clicks, bookings and revenue, a sort, health flags, and a sentence
naming the best campaign and segment. Reads the engagement counters and attributed bookings
only (two grouped queries), so it costs the same with a million sends as with a hundred."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from pipeline.bookings.figures import booking_figures, figures_document, rates
from pipeline.metrics import ENGAGEMENT_FIGURES
from pipeline.models import BookingSums, MetricCounts
from pipeline.store.bookings import any_bookings, attributed_sums_by_variant
from pipeline.store.metrics import campaigns_active_since, engagement_by_variant

# Health thresholds as mailbox providers apply them (Gmail and Yahoo's sender rules):
# complaints above 0.1% are a warning, above 0.3% the limit; bounces above 2%.
COMPLAINT_WARNING = 0.001
COMPLAINT_LIMIT = 0.003
BOUNCE_LIMIT = 0.02
# "Best" is judged only among rows with enough delivered emails to mean something.
MIN_DELIVERED_FOR_BEST = 20
SORT_KEYS = (
    "campaign", "delivered", "open_rate", "click_rate", "booking_clicks", "bookings", "revenue",
    "unsubscribe_rate", "complaint_rate",
)  # fmt: skip


@dataclass(frozen=True)
class ComparisonRow:
    campaign: str
    name: str
    started_at: datetime | None
    segment: str | None  # None: all segments
    counts: MetricCounts
    bookings: BookingSums | None

    def document(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "name": self.name,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "segment": self.segment,
            **figures_document(self.counts, self.bookings),
            "health": [text for _, text in health_flags(self.counts)],
        }

    def sort_value(self, key: str) -> Any:
        if key == "campaign":
            return self.name.lower()
        if key in ("bookings", "revenue"):
            figures = booking_figures(self.bookings, self.counts.delivered)
            return figures[key]
        if key.endswith("_rate"):
            return rates(self.counts)[key]
        return getattr(self.counts, key)


@dataclass(frozen=True)
class Comparison:
    since: date
    segment: str | None
    rows: tuple[ComparisonRow, ...]
    bookings_imported: bool
    best_campaign: ComparisonRow | None
    best_segment: tuple[str, ComparisonRow] | None
    simulated: bool


def health_flags(counts: MetricCounts) -> tuple[tuple[str, str], ...]:
    """(level "warning" or "limit", what is wrong) for each threshold passed."""
    figures = rates(counts)
    flags = []
    complaint = figures["complaint_rate"]
    if complaint is not None and complaint > COMPLAINT_LIMIT:
        flags.append(("limit", "complaints above 0.3% (Gmail and Yahoo's limit)"))
    elif complaint is not None and complaint > COMPLAINT_WARNING:
        flags.append(("warning", "complaints above 0.1%"))
    bounce = figures["bounce_rate"]
    if bounce is not None and bounce > BOUNCE_LIMIT:
        flags.append(("limit", "bounces above 2%"))
    return tuple(flags)


def best_measure(row: ComparisonRow, bookings_imported: bool) -> float:
    """What "best" means: most bookings per 1,000 delivered once bookings are imported, else
    the most booking clicks per delivered (the nearest sign of a booking)."""
    delivered = row.counts.delivered
    if bookings_imported and row.bookings is not None:
        return row.bookings.bookings / delivered
    return row.counts.booking_clicks / delivered


def _best(rows: Sequence[ComparisonRow], imported: bool) -> ComparisonRow | None:
    eligible = [row for row in rows if row.counts.delivered >= MIN_DELIVERED_FOR_BEST]
    if not eligible:
        return None
    best = max(eligible, key=lambda row: (best_measure(row, imported), row.counts.delivered))
    return best if best_measure(best, imported) > 0 else None


def comparison(
    conn: Connection,
    since: date,
    *,
    zone: ZoneInfo,
    segment: str | None = None,
    sort: str = "delivered",
    descending: bool = True,
) -> Comparison:
    """Campaigns started since local day `since` or with engagement since then; each with its
    whole figures (so a row matches the campaign's own page), for `segment` or all."""
    started = datetime.combine(since, time(0), zone)
    campaigns = campaigns_active_since(conn, started, since)
    ids = [campaign.id for campaign in campaigns]
    figures: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    simulated = False
    variant_segment: dict[int, str] = {}
    for campaign_id, variant_id, name, kind, is_simulated, count in engagement_by_variant(
        conn, ids
    ):
        variant_segment[variant_id] = name
        if kind in ENGAGEMENT_FIGURES:
            figures[(campaign_id, name)][kind] += count
            simulated = simulated or is_simulated
    imported = any_bookings(conn)
    booked: dict[tuple[int, str], BookingSums] = defaultdict(BookingSums)
    if imported:
        for (campaign_id, variant_id), sums in attributed_sums_by_variant(conn, ids).items():
            name = variant_segment.get(variant_id, "")
            booked[(campaign_id, name)] += sums
            simulated = simulated or sums.simulated

    def row_of(campaign, names: Sequence[str], label: str | None) -> ComparisonRow:
        total: dict[str, int] = defaultdict(int)
        sums = BookingSums()
        for name in names:
            for kind, count in figures.get((campaign.id, name), {}).items():
                total[kind] += count
            sums += booked.get((campaign.id, name), BookingSums())
        counts = MetricCounts(**{kind: total.get(kind, 0) for kind in ENGAGEMENT_FIGURES})
        return ComparisonRow(
            campaign.slug, campaign.name, campaign.started_at, label, counts,
            sums if imported else None,
        )  # fmt: skip

    segments_of: dict[int, set[str]] = defaultdict(set)
    for campaign_id, name in list(figures) + list(booked):
        segments_of[campaign_id].add(name)
    rows = [
        row_of(campaign, [segment] if segment else sorted(segments_of[campaign.id]), segment)
        for campaign in campaigns
        if segment is None or segment in segments_of[campaign.id]
    ]
    key = sort if sort in SORT_KEYS else "delivered"
    present = [row for row in rows if row.sort_value(key) is not None]
    absent = [row for row in rows if row.sort_value(key) is None]
    present.sort(key=lambda row: row.sort_value(key), reverse=descending)
    by_segment = [
        (name, row_of_segment)
        for name in sorted({name for names in segments_of.values() for name in names})
        if (row_of_segment := _segment_row(campaigns, name, row_of)).counts.delivered
    ]
    best_segment_row = _best([row for _, row in by_segment], imported)
    return Comparison(
        since=since,
        segment=segment,
        rows=tuple(present + absent),
        bookings_imported=imported,
        best_campaign=_best(rows, imported),
        best_segment=(
            (best_segment_row.segment or "", best_segment_row) if best_segment_row else None
        ),
        simulated=simulated,
    )


def _segment_row(campaigns, name: str, row_of) -> ComparisonRow:
    """One segment across every campaign of the period, as one row."""
    counts: dict[str, int] = defaultdict(int)
    sums = BookingSums()
    imported = False
    for campaign in campaigns:
        row = row_of(campaign, [name], name)
        for kind, value in row.counts.as_dict().items():
            counts[kind] += value
        if row.bookings is not None:
            imported = True
            sums += row.bookings
    return ComparisonRow("", "", None, name, MetricCounts(**counts), sums if imported else None)
