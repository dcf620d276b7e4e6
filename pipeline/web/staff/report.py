"""The owner's weekly report in the browser: last week's report as the owners receive it, and a
button that emails it to them now."""

from __future__ import annotations

import base64
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pipeline.errors import ClinicmailError
from pipeline.metrics import local_today
from pipeline.report import build_weekly_report, render_report, send_weekly_report, week_of
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)


def _week(request: Request) -> date | None:
    """The week asked for (?week=YYYY-MM-DD, any day of it); None: the last whole week."""
    try:
        return date.fromisoformat(request.query_params.get("week", ""))
    except ValueError:
        return None


@router.get("/report")
def report_page(request: Request) -> Response:
    settings = request.app.state.settings
    week = _week(request)
    report = build_weekly_report(request.app.state.engine, settings, week=week)
    this_week, _ = week_of(local_today(settings.clinic.zone))
    context = {
        "report": report,
        "demo_banner": report.simulated,
        "week": report.first_day.isoformat(),
        "previous_week": (report.first_day - timedelta(days=7)).isoformat(),
        "next_week": (
            (report.first_day + timedelta(days=7)).isoformat()
            if report.first_day < this_week
            else None
        ),
        "this_week": this_week.isoformat(),
    }
    return render(request, "report.html", context)


@router.get("/report/email")
def report_email(request: Request) -> Response:
    """The report's HTML, its chart embedded, for the page's sandboxed frame."""
    settings = request.app.state.settings
    report = build_weekly_report(request.app.state.engine, settings, week=_week(request))
    chart = "data:image/png;base64," + base64.b64encode(report.chart_png).decode()
    html, _ = render_report(report, settings, chart)
    headers = {"Content-Security-Policy": "sandbox; script-src 'none'"}
    return HTMLResponse(html, headers=headers)


@router.post("/report/send")
def report_send(request: Request) -> Response:
    try:
        sent_to = send_weekly_report(request.app.state.engine, request.app.state.settings)
    except ClinicmailError as problem:
        flash(request, f"The report was not sent: {problem}", "error")
    else:
        flash(request, f"The weekly report was sent to {', '.join(sent_to)}.")
    return redirect("/report")
