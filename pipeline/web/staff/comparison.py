"""The owner's comparison on the dashboard: which campaigns and segments did best this period,
as a table that sorts (links, no script), filters by segment and downloads as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.bookings.figures import BOOKING_KEYS, NO_BOOKINGS, booking_figures, rates
from pipeline.comparison import SORT_KEYS, Comparison, ComparisonRow, comparison, health_flags
from pipeline.metrics import local_today
from pipeline.models import Segment
from pipeline.segments import segment_label

router = APIRouter(include_in_schema=False)
# The dashboard's period: the last DAYS local days, today included.
DAYS = 30

# (sort key, heading): every rate says what it is out of.
COLUMNS = (
    ("campaign", "Campaign"),
    ("delivered", "Delivered"),
    ("open_rate", "Open rate (people, of delivered)"),
    ("click_rate", "Click rate (of delivered)"),
    ("booking_clicks", "Booking clicks"),
    ("bookings", "Bookings (attributed)"),
    ("revenue", "Revenue"),
    ("unsubscribe_rate", "Unsubscribe rate (of delivered)"),
    ("complaint_rate", "Complaint rate (of delivered)"),
)
DEFINITION_OF_BEST = (
    "Best means the most attributed bookings per 1,000 delivered emails (before any bookings "
    "are imported: the most booking clicks per delivered email), among those with at least "
    "{minimum} delivered."
)


def period_start(request: Request) -> date:
    """The first local day of the dashboard's period (the last DAYS days, today included)."""
    return local_today(request.app.state.settings.clinic.zone) - timedelta(days=DAYS - 1)


def comparison_query(request: Request) -> dict[str, Any]:
    """sort, dir and segment from the query string, checked (unknown values fall back)."""
    params = request.query_params
    sort = params.get("sort", "delivered")
    return {
        "sort": sort if sort in SORT_KEYS else "delivered",
        "descending": params.get("dir", "desc") != "asc",
        "segment": params.get("segment") or None,
    }


def load_comparison(request: Request, since: date) -> Comparison:
    query = comparison_query(request)
    with request.app.state.engine.connect() as conn:
        return comparison(conn, since, zone=request.app.state.settings.clinic.zone, **query)


def best_sentence(result: Comparison, segments: dict[str, Segment]) -> str:
    """One sentence naming the best campaign and segment of the period, or saying why not."""
    measure = "bookings per 1,000 delivered" if result.bookings_imported else "booking clicks"
    parts = []
    if result.best_campaign is not None:
        row = result.best_campaign
        parts.append(f"Best campaign: {row.name} ({_measure_text(row, result)})")
    if result.best_segment is not None:
        name, row = result.best_segment
        parts.append(
            f"best segment: {segment_label(segments, name)} ({_measure_text(row, result)})"
        )
    if not parts:
        return f"No campaign or segment stands out yet: none has {measure} with enough emails."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _measure_text(row: ComparisonRow, result: Comparison) -> str:
    if result.bookings_imported and row.bookings is not None:
        per_thousand = booking_figures(row.bookings, row.counts.delivered)
        return f"{per_thousand['bookings_per_1000_delivered']:.1f} bookings per 1,000 delivered"
    rate = rates(row.counts)["booking_click_rate"] or 0
    return f"{rate * 100:.1f}% of delivered clicked to book"


def table_rows(result: Comparison) -> list[dict[str, Any]]:
    """What each row of the table shows, formatted as staff read it."""
    shown = []
    for row in result.rows:
        figures = rates(row.counts)
        booked = booking_figures(row.bookings, row.counts.delivered)
        shown.append(
            {
                "slug": row.campaign,
                "name": row.name,
                "delivered": row.counts.delivered,
                "open_rate": figures["open_rate"],
                "click_rate": figures["click_rate"],
                "booking_clicks": row.counts.booking_clicks,
                "bookings": booked["bookings"],
                "revenue": booked["revenue"],
                "unsubscribe_rate": figures["unsubscribe_rate"],
                "complaint_rate": figures["complaint_rate"],
                "health": health_flags(row.counts),
            }
        )
    return shown


def sort_links(request: Request, query: dict[str, Any]) -> dict[str, str]:
    """For each column, the address that sorts by it (descending first; again: ascending)."""
    links = {}
    for key, _ in COLUMNS:
        descending = not (query["sort"] == key and query["descending"])
        params = dict(request.query_params)
        params.update(sort=key, dir="desc" if descending else "asc")
        links[key] = "?" + "&".join(f"{name}={value}" for name, value in params.items())
    return links


@router.get("/dashboard.csv")
def comparison_csv(request: Request) -> Response:
    result = load_comparison(request, period_start(request))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = [key for key, _ in COLUMNS]
    writer.writerow(
        ["campaign_slug", *keys, "bounce_rate", "cancelled", "no_shows", "new_clients", "health"]
    )
    for row in result.rows:
        document = row.document()
        writer.writerow(
            [row.campaign, row.name]
            + [_csv_value(key, document[key]) for key in keys[1:]]
            + [
                _csv_value(key, document[key])
                for key in ("bounce_rate", "cancelled", "no_shows", "new_clients")
            ]
            + ["; ".join(document["health"])]
        )
    filename = f"campaigns-since-{result.since.isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv_value(key: str, value: Any) -> Any:
    """Unknown booking figures (no bookings imported) are written as the words, never as 0; a
    rate with nothing to divide by is left empty."""
    if value is None:
        return NO_BOOKINGS if key in BOOKING_KEYS else ""
    return value
