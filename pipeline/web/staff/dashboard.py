"""The dashboard: the last 30 days' key figures, trend charts per segment, recent and upcoming
campaigns, and a banner whenever any figure comes from simulated (demo) events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.bookings.figures import NO_BOOKINGS, with_bookings
from pipeline.comparison import MIN_DELIVERED_FOR_BEST
from pipeline.metrics import daily_series, local_today, overview, segment_daily_series
from pipeline.models import DayMetrics, Segment
from pipeline.segments import segment_label
from pipeline.store import campaign_states as lifecycle_store
from pipeline.web.staff.charts import trend_chart_svg
from pipeline.web.staff.comparison import (
    COLUMNS,
    DAYS,
    DEFINITION_OF_BEST,
    best_sentence,
    comparison_query,
    load_comparison,
    period_start,
    sort_links,
    table_rows,
)
from pipeline.web.staff.rendering import render

router = APIRouter(include_in_schema=False)
UPCOMING_STATES = ("scheduled", "approved", "paused", "sending", "missed")
# The lines of each trend chart: (figure in DayMetrics.counts, what staff read).
TREND_LINES = (("delivered", "Delivered"), ("opens", "Opened"), ("clicks", "Clicked"))


@router.get("/")
def dashboard_page(request: Request) -> Response:
    settings = request.app.state.settings
    zone = settings.clinic.zone
    today = local_today(zone)
    since = period_start(request)
    segments = {segment.name: segment for segment in settings.segments}
    with request.app.state.engine.connect() as conn:
        figures = overview(conn, since, zone=zone)
        series = with_bookings(conn, daily_series(conn, None, DAYS, today=today), zone)
        per_segment = segment_daily_series(conn, DAYS, today=today)
        upcoming = lifecycle_store.campaigns_in_states(conn, UPCOMING_STATES)
    compared = load_comparison(request, since)
    query = comparison_query(request)
    upcoming.sort(key=lambda c: (c.scheduled_for is None, c.scheduled_for or c.started_at, c.slug))
    charts = [_chart("All segments", series)]
    for name, segment_series in sorted(
        per_segment.items(), key=lambda item: _order(segments, item[0])
    ):
        charts.append(_chart(segment_label(segments, name), segment_series))
    context = {
        "overview": figures,
        "since": since,
        "charts": charts,
        "upcoming": upcoming,
        "label": lambda name: segment_label(segments, name),
        "demo_banner": figures.simulated or compared.simulated,
        "days": DAYS,
        "comparison": compared,
        "comparison_rows": table_rows(compared),
        "comparison_columns": COLUMNS,
        "comparison_query": query,
        "sort_links": sort_links(request, query),
        "best_sentence": best_sentence(compared, segments),
        "best_definition": DEFINITION_OF_BEST.format(minimum=MIN_DELIVERED_FOR_BEST),
        "segment_choices": [(name, segment_label(segments, name)) for name in segments],
        "no_bookings": NO_BOOKINGS,
    }
    return render(request, "dashboard.html", context)


def _chart(title: str, series: list[DayMetrics]) -> dict[str, str]:
    lines = TREND_LINES + ((("bookings", "Bookings"),) if "bookings" in series[0].counts else ())
    values = {label: [day.counts.get(name, 0) for day in series] for name, label in lines}
    description = f"{', '.join(label for _, label in lines)} per day, last {DAYS} days: {title}"
    return {
        "title": title,
        "svg": trend_chart_svg([d.day for d in series], values, title=description),
    }


def _order(segments: dict[str, Segment], name: str) -> tuple[int, str]:
    """segments.yaml's order (general last), unknown names after."""
    names = list(segments)
    return (names.index(name) if name in names else len(names), name)
