"""Rendering staff pages: one Jinja2 environment over pipeline/web/templates, the context every
page gets (user, clinic, CSRF token, navigation, flash messages), and flash messages."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from pipeline.web.auth import csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)

# (path, label, who sees it): the staff navigation, in order.
NAVIGATION = (
    ("/", "Dashboard", "all"),
    ("/campaigns", "Campaigns", "all"),
    ("/content", "Content", "all"),
    ("/contacts", "Contacts", "all"),
    ("/bookings", "Bookings", "all"),
    ("/messages", "Received mail", "demo"),
    ("/report", "Report", "all"),
    ("/users", "Users", "owner"),
)


def _format_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _format_percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _format_when(value: datetime | date | None, zone: str | None = None) -> str:
    """A datetime in the clinic's zone (`zone`), or a date, for people to read."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        if zone:
            value = value.astimezone(ZoneInfo(zone))
        return value.strftime("%d %b %Y %H:%M %Z").strip()
    return value.strftime("%d %b %Y")


templates.env.filters["number"] = _format_number
templates.env.filters["percent"] = _format_percent
templates.env.filters["when"] = _format_when


def demo_mode(request: Request) -> bool:
    return request.app.state.settings.delivery.backend == "local"


def navigation(request: Request) -> list[dict[str, Any]]:
    user = getattr(request.state, "user", None)
    items = []
    for path, label, audience in NAVIGATION:
        if audience == "owner" and not (user and user.is_owner):
            continue
        if audience == "demo" and not demo_mode(request):
            continue
        current = request.url.path == path or (path != "/" and request.url.path.startswith(path))
        items.append({"path": path, "label": label, "current": current})
    return items


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once on the next page (after a redirect)."""
    request.session.setdefault("flashes", [])
    request.session["flashes"] = [*request.session["flashes"], [kind, message]]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    settings = request.app.state.settings
    page = {
        "user": getattr(request.state, "user", None),
        "settings": settings,
        "clinic": settings.clinic,
        "csrf_token": csrf_token(request),
        "navigation": navigation(request),
        "flashes": request.session.pop("flashes", []),
        "demo_mode": demo_mode(request),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, page, status_code=status_code)


def redirect(path: str) -> RedirectResponse:
    """After a form post: 303 so the browser follows with a GET."""
    return RedirectResponse(path, status_code=303)
