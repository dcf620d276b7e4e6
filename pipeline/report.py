"""The owner's weekly report: the last seven days' figures per campaign and per segment, with a
chart (a PNG attached inline by Content-ID), rendered through the MJML pipeline and emailed to
every owner, or written to a file (.eml: the email; .html: a page with the chart embedded)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.config import Settings
from pipeline.delivery.backends import open_backend
from pipeline.errors import InputError
from pipeline.metrics import campaign_metrics, daily_series, overview
from pipeline.models import CampaignMetrics, DayMetrics, Overview
from pipeline.render.compile import render_email
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.store.users import list_users
from pipeline.timerules import format_local

if TYPE_CHECKING:
    from sqlalchemy import Engine

REPORT_TEMPLATE = "report"
CHART_CID = "weekly-chart@clinicmail"
# The daily figures the chart draws, in this order, with their legend labels.
CHART_SERIES = (
    ("delivered", "Delivered"),
    ("opens", "Opened"),
    ("clicks", "Clicked"),
    ("booking_clicks", "Booking clicks"),
)
COLUMNS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("opens", "Opened"),
    ("clicks", "Clicked"),
    ("booking_clicks", "Booking clicks"),
    ("bounced", "Bounced"),
    ("unsubscribes", "Unsubscribed"),
    ("complaints", "Complaints"),
    ("skipped", "Skipped"),
)


@dataclass(frozen=True)
class WeeklyReport:
    first_day: date
    last_day: date
    overview: Overview
    campaigns: tuple[CampaignMetrics, ...]
    days: tuple[DayMetrics, ...]
    attention: tuple[tuple[str, str, str], ...]  # (slug, state, reason) of missed/failed ones
    chart_png: bytes

    @property
    def subject(self) -> str:
        return f"Weekly report: {self.first_day:%-d %b} – {self.last_day:%-d %b %Y}"


def report_week(now: datetime, settings: Settings) -> tuple[date, date]:
    """The seven local days that ended at the last local midnight before `now`."""
    today = now.astimezone(settings.clinic.zone).date()
    return today - timedelta(days=7), today - timedelta(days=1)


def build_weekly_report(
    engine: Engine, settings: Settings, now: datetime | None = None
) -> WeeklyReport:
    now = now or utcnow()
    first_day, last_day = report_week(now, settings)
    week_start = datetime.combine(first_day, time(0), tzinfo=settings.clinic.zone)
    zone = settings.clinic.zone
    with engine.connect() as conn:
        summary = overview(conn, first_day, zone=zone)
        campaigns = tuple(campaign_metrics(conn, each.campaign) for each in summary.campaigns)
        days = tuple(daily_series(conn, None, 7, today=last_day))
        attention = tuple(
            (c.slug, c.state, c.state_reason or "")
            for c in lifecycle_store.campaigns_in_states(conn, ("missed", "failed"))
            if c.scheduled_for is None or c.scheduled_for >= week_start
        )
    return WeeklyReport(
        first_day, last_day, summary, campaigns, days, attention, weekly_chart(first_day, days)
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
    axes.set_ylabel("emails")
    axes.set_ylim(bottom=0, top=max(axes.get_ylim()[1], 1))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _rows(counts) -> list[str]:
    values = counts.as_dict()
    return [str(values.get(key, 0)) for key, _ in COLUMNS]


def report_context(report: WeeklyReport, settings: Settings, chart_src: str) -> dict[str, Any]:
    zone = settings.clinic.zone
    return {
        "clinic": settings.clinic,
        "subject": report.subject,
        "preheader": (
            f"{report.overview.totals.sent} emails sent, {report.overview.totals.clicks} "
            "clicked, over the last seven days"
        ),
        "period": f"{report.first_day:%A %-d %B} to {report.last_day:%A %-d %B %Y}",
        "columns": [label for _, label in COLUMNS],
        "totals": _rows(report.overview.totals),
        "segments": [
            {"label": each.segment, "values": _rows(each.counts)}
            for each in report.overview.segments
        ],
        "campaigns": [
            {
                "name": each.name,
                "slug": each.campaign,
                "state": each.state,
                "started": format_local(each.started_at, zone) if each.started_at else "",
                "values": _rows(each.totals),
                "segments": [
                    {"label": seg.segment, "values": _rows(seg.counts)} for seg in each.segments
                ],
            }
            for each in report.campaigns
        ],
        "attention": [
            {"slug": slug, "state": state, "reason": reason}
            for slug, state, reason in report.attention
        ],
        "simulated": report.overview.simulated,
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
    html_part = message.get_payload()[1]
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
            "no owner to send the weekly report to: add one with "
            "`clinicmail users add EMAIL --role owner`"
        )
    report = build_weekly_report(engine, settings, now)
    backend = open_backend(settings)
    try:
        for recipient in recipients:
            backend.send_message(report_message(report, settings, [recipient]))
    finally:
        backend.close()
    return recipients
