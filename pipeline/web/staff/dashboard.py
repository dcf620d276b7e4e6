"""The dashboard: the last 30 days' key figures, trend charts per segment, recent and upcoming
campaigns, and a banner whenever any figure comes from simulated (demo) events."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.metrics import daily_series, local_today, overview, segment_daily_series
from pipeline.models import DayMetrics, Segment
from pipeline.store import campaign_states as lifecycle_store
from pipeline.web.staff.campaign_preview import segment_label
from pipeline.web.staff.charts import trend_chart_svg
from pipeline.web.staff.rendering import render

router = APIRouter(include_in_schema=False)
DAYS = 30
UPCOMING_STATES = ("scheduled", "approved", "paused", "sending", "missed")
# The lines of each trend chart: (figure in DayMetrics.counts, what staff read).
TREND_LINES = (("delivered", "Delivered"), ("opens", "Opened"), ("clicks", "Clicked"))


@router.get("/")
def dashboard_page(request: Request) -> Response:
    settings = request.app.state.settings
    zone = settings.clinic.zone
    today = local_today(zone)
    since = today - timedelta(days=DAYS - 1)
    segments = {segment.name: segment for segment in settings.segments}
    with request.app.state.engine.connect() as conn:
        figures = overview(conn, since, zone=zone)
        series = daily_series(conn, None, DAYS, today=today)
        per_segment = segment_daily_series(conn, DAYS, today=today)
        upcoming = lifecycle_store.campaigns_in_states(conn, UPCOMING_STATES)
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
        "demo_banner": figures.simulated,
        "days": DAYS,
    }
    return render(request, "dashboard.html", context)


def _chart(title: str, series: list[DayMetrics]) -> dict[str, str]:
    values = {label: [day.counts.get(name, 0) for day in series] for name, label in TREND_LINES}
    description = f"Delivered, opened and clicked per day, last {DAYS} days: {title}"
    return {
        "title": title,
        "svg": trend_chart_svg([d.day for d in series], values, title=description),
    }


def _order(segments: dict[str, Segment], name: str) -> tuple[int, str]:
    """segments.yaml's order (general last), unknown names after."""
    names = list(segments)
    return (names.index(name) if name in names else len(names), name)
