"""The owner's weekly report: the last seven days' figures per campaign and per segment, with a
chart (a PNG attached inline by Content-ID), rendered through the MJML pipeline and emailed to
every owner, or written to a file (.eml: the email; .html: a page with the chart embedded)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.bookings.figures import NO_BOOKINGS, booking_figures, rates, with_bookings
from pipeline.config import Settings
from pipeline.delivery.backends import open_backend
from pipeline.errors import InputError
from pipeline.metrics import daily_series
from pipeline.models import DayMetrics
from pipeline.render.compile import render_email
from pipeline.segments import segment_label
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.store.users import list_users
from pipeline.timerules import format_local
from pipeline.week import local_bounds, window_figures

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pipeline.week import WindowFigures, WindowRow

REPORT_TEMPLATE = "report"
CHART_CID = "weekly-chart@clinicmail"
# The daily figures the chart draws, in this order, with their legend labels.
CHART_SERIES = (
    ("delivered", "Delivered"),
    ("opens", "Opened"),
    ("clicks", "Clicked"),
    ("booking_clicks", "Booking clicks"),
    ("bookings", "Bookings"),
)
# The segment tables' columns: few, short and numeric, so they read at 375 px. Rates and the
# rest of the figures are in the week-at-a-glance list above them.
COLUMNS = (("delivered", "Delivered"), ("opens", "Opened"), ("booking_clicks", "Booking clicks"))
BOOKING_COLUMNS = (("bookings", "Bookings"), ("revenue", "Revenue"))


@dataclass(frozen=True)
class WeeklyReport:
    first_day: date
    last_day: date
    figures: WindowFigures
    days: tuple[DayMetrics, ...]
    attention: tuple[tuple[str, str, str], ...]  # (slug, state, reason) of missed/failed ones
    chart_png: bytes

    @property
    def subject(self) -> str:
        return f"Weekly report: {self.first_day:%-d %b} – {self.last_day:%-d %b %Y}"

    @property
    def simulated(self) -> bool:
        return self.figures.simulated


def week_of(day: date) -> tuple[date, date]:
    """The local week (Monday to Sunday) that holds `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def report_week(now: datetime, settings: Settings) -> tuple[date, date]:
    """The last whole local week (Monday to Sunday) before `now`: what the Monday report tells."""
    today = now.astimezone(settings.clinic.zone).date()
    return week_of(today - timedelta(days=today.weekday() + 1))


def build_weekly_report(
    engine: Engine, settings: Settings, now: datetime | None = None, week: date | None = None
) -> WeeklyReport:
    """The report of the local week holding `week` (default: the last whole week before
    `now`). Tables and chart cover exactly that week's local days."""
    now = now or utcnow()
    first_day, last_day = week_of(week) if week else report_week(now, settings)
    week_start, _ = local_bounds(first_day, last_day, settings.clinic.zone)
    zone = settings.clinic.zone
    with engine.connect() as conn:
        figures = window_figures(conn, first_day, last_day, zone=zone)
        days = tuple(with_bookings(conn, daily_series(conn, None, 7, today=last_day), zone))
        attention = tuple(
            (c.slug, c.state, c.state_reason or "")
            for c in lifecycle_store.campaigns_in_states(conn, ("missed", "failed"))
            if c.scheduled_for is None or c.scheduled_for >= week_start
        )
    return WeeklyReport(
        first_day, last_day, figures, days, attention, weekly_chart(first_day, days)
    )


def weekly_chart(first_day: date, days: Sequence[DayMetrics]) -> bytes:
    """A PNG line chart of the week's daily figures (matplotlib, no display needed)."""
    dates = [first_day + timedelta(days=offset) for offset in range(7)]
    by_day = {day.day: day.counts for day in days}
    figure = Figure(figsize=(6, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for key, label in CHART_SERIES:
        axes.plot(
            [d.strftime("%a %-d") for d in dates],
            [by_day.get(d, {}).get(key, 0) for d in dates],
            marker="o",
            label=label,
        )
    axes.set_ylabel("emails / bookings")
    axes.set_ylim(bottom=0, top=max(axes.get_ylim()[1], 1))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _values(row: WindowRow, with_bookings: bool) -> list[str]:
    values = [f"{getattr(row.counts, key):,}" for key, _ in COLUMNS]
    if with_bookings:
        figures = booking_figures(row.bookings, row.counts.delivered)
        values += [f"{figures['bookings']:,}", f"{figures['revenue']:,.2f}"]
    return values


def _glance(row: WindowRow) -> list[dict[str, str]]:
    """The week's figures as (label, value) lines, each rate saying what it is out of."""
    counts, figures = row.counts, rates(row.counts)
    booked = booking_figures(row.bookings, counts.delivered)

    def of_delivered(value: int, key: str) -> str:
        return f"{value:,} ({_percent(figures[key])} of delivered)"

    lines = [
        ("Sent", f"{counts.sent:,}"),
        ("Delivered", f"{counts.delivered:,}"),
        ("Opened by people", of_delivered(counts.opens, "open_rate")),
        ("Clicked", of_delivered(counts.clicks, "click_rate")),
        ("Booking clicks", of_delivered(counts.booking_clicks, "booking_click_rate")),
    ]
    if booked["bookings_imported"]:
        lines += [
            ("Bookings", f"{booked['bookings']:,} ({booked['new_clients']:,} new clients)"),
            ("Revenue", f"{booked['revenue']:,.2f}"),
            ("Cancelled / no-shows", f"{booked['cancelled']:,} / {booked['no_shows']:,}"),
        ]
    else:
        lines.append(("Bookings", NO_BOOKINGS))
    lines += [
        (
            "Bounced",
            f"{counts.bounced:,} ({_percent(figures['bounce_rate'])} of delivered + bounced)",
        ),
        ("Unsubscribed", of_delivered(counts.unsubscribes, "unsubscribe_rate")),
        ("Complaints", of_delivered(counts.complaints, "complaint_rate")),
    ]
    return [{"label": label, "value": value} for label, value in lines]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def report_context(report: WeeklyReport, settings: Settings, chart_src: str) -> dict[str, Any]:
    zone = settings.clinic.zone
    segments = {segment.name: segment for segment in settings.segments}
    figures = report.figures
    imported = figures.bookings_imported

    def rows(window_rows: Sequence[WindowRow]) -> list[dict[str, Any]]:
        return [
            {"label": segment_label(segments, row.segment), "values": _values(row, imported)}
            for row in window_rows
        ]

    return {
        "clinic": settings.clinic,
        "subject": report.subject,
        "preheader": (
            f"{figures.total.counts.sent:,} emails sent, {figures.total.counts.booking_clicks:,} "
            "booking clicks this week"
        ),
        "period": f"{report.first_day:%A %-d %B} to {report.last_day:%A %-d %B %Y}",
        "glance": _glance(figures.total),
        "columns": [label for _, label in COLUMNS + (BOOKING_COLUMNS if imported else ())],
        "bookings_note": None if imported else f"Bookings: {NO_BOOKINGS}.",
        "totals": _values(figures.total, imported),
        "segments": rows(figures.segments),
        "campaigns": [
            {
                "name": each.name,
                "slug": each.slug,
                "state": each.state,
                "started": format_local(each.started_at, zone) if each.started_at else "",
                "values": _values(each.total, imported),
                "segments": rows(each.segments),
            }
            for each in figures.campaigns
        ],
        "attention": [
            {"slug": slug, "state": state, "reason": reason}
            for slug, state, reason in report.attention
        ],
        "simulated": figures.simulated,
        "chart_src": chart_src,
    }


def render_report(report: WeeklyReport, settings: Settings, chart_src: str) -> tuple[str, str]:
    """(html, text) from templates/report.mjml.j2 and report.txt.j2."""
    return render_email(settings, REPORT_TEMPLATE, report_context(report, settings, chart_src))


def report_message(
    report: WeeklyReport, settings: Settings, recipients: Sequence[str]
) -> EmailMessage:
    """The whole email: text, HTML and the chart as a related part the HTML shows by cid."""
    html, text = render_report(report, settings, f"cid:{CHART_CID}")
    message = EmailMessage()
    message["Subject"] = report.subject
    message["From"] = formataddr((settings.sender.name, str(settings.sender.email)))
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=str(settings.sender.email).rsplit("@", 1)[1])
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = next(
        part for part in message.iter_parts() if part.get_content_type() == "text/html"
    )
    html_part.add_related(
        report.chart_png, "image", "png", cid=f"<{CHART_CID}>", filename="weekly-chart.png"
    )
    return message


def owner_addresses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [user.email for user in list_users(conn) if user.role == "owner"]


def write_weekly_report(
    engine: Engine, settings: Settings, out: Path, now: datetime | None = None
) -> Path:
    """Write the report to `out`: .eml (the email, to the owners) or .html (a page that shows the
    chart without the email around it)."""
    suffix = out.suffix.lower()
    if suffix not in (".eml", ".html", ".htm"):
        raise InputError(f"{out}: the report is written as .eml or .html; use one of those")
    report = build_weekly_report(engine, settings, now)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".eml":
        recipients = owner_addresses(engine) or [str(settings.sender.email)]
        out.write_bytes(bytes(report_message(report, settings, recipients)))
    else:
        embedded = "data:image/png;base64," + base64.b64encode(report.chart_png).decode()
        html, _ = render_report(report, settings, embedded)
        out.write_text(html, encoding="utf-8")
    return out


def send_weekly_report(
    engine: Engine, settings: Settings, now: datetime | None = None
) -> list[str]:
    """Email the report to every owner through the configured backend; their addresses."""
    recipients = owner_addresses(engine)
    if not recipients:
        raise InputError(
            "no owner to send the weekly report to: add one",
            command_hint="`clinicmail users add EMAIL --role owner`",
        )
    report = build_weekly_report(engine, settings, now)
    backend = open_backend(settings)
    try:
        for recipient in recipients:
            backend.send_message(report_message(report, settings, [recipient]))
    finally:
        backend.close()
    return recipients
