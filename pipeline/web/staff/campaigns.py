"""The campaign pages: the list, making one from an article, and a campaign's page with its plan
and evidence, previews, checks, test send, lifecycle actions, live progress and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pipeline.campaigns.actions import (
    ChecksFailed,
    approve_checked_campaign,
    cancel_campaign,
    get_lifecycle,
    pause_campaign,
)
from pipeline.errors import ClinicmailError, NotFoundError, StateError
from pipeline.metrics import campaign_metrics, top_links
from pipeline.models import APPROVABLE, CANCELLABLE, PAUSABLE, SCHEDULABLE, StaffUser
from pipeline.segments import segment_label
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.store.articles import list_articles
from pipeline.web.auth import staff_user
from pipeline.web.headers import EMAIL_PREVIEW_HEADERS
from pipeline.web.staff.campaign_calendar import list_figures, past_time_warning
from pipeline.web.staff.campaign_editor import EDITABLE
from pipeline.web.staff.campaign_preview import (
    build_preview,
    create_web_campaign,
    preview_html,
    send_test_email,
)
from pipeline.web.staff.campaign_schedule import proposal, resume_refusal, state_words
from pipeline.web.staff.live import poll_interval_seconds
from pipeline.web.staff.rendering import flash, redirect, render, templates
from pipeline.web.staff.undo import offer_undo, take_undo, undo_offer
from pipeline.web.staff.who_gets_it import who_gets_it

router = APIRouter(include_in_schema=False)
Staff = Annotated[StaffUser, Depends(staff_user)]


@router.get("/campaigns")
def campaigns_page(request: Request) -> Response:
    zone = request.app.state.settings.clinic.zone
    now = utcnow()
    with request.app.state.engine.connect() as conn:
        campaigns = lifecycle_store.all_campaigns(conn)
        order = {"sending": 0, "scheduled": 1, "paused": 2, "approved": 3, "draft": 4, "missed": 5}
        campaigns.sort(key=lambda c: (order.get(c.state, 9), c.scheduled_for is None, c.slug))
        figures = list_figures(conn, campaigns)
        rows = [
            {
                "campaign": c,
                "figures": figures.get(c.slug),
                "warning": past_time_warning(c, now, zone),
            }
            for c in campaigns
        ]
    return render(request, "campaigns.html", {"rows": rows})


@router.get("/campaigns/new")
def new_campaign_page(request: Request, article: str = "") -> Response:
    settings = request.app.state.settings
    with request.app.state.engine.connect() as conn:
        articles = list_articles(conn)
    context = {
        "articles": articles,
        "chosen": article,
        "segments": settings.segments,
        "error": None,
    }
    return render(request, "campaign_new.html", context)


@router.post("/campaigns/new")
async def new_campaign(request: Request, user: Staff) -> Response:
    form = await request.form()
    article = str(form.get("article", ""))
    try:
        slug = create_web_campaign(
            request.app.state.engine,
            request.app.state.settings,
            article_slug=article,
            name=str(form.get("name", "")),
            segments=[str(value) for value in form.getlist("segments")],
            created_by=user.email,
        )
    except ClinicmailError as problem:
        flash(request, f"The campaign was not made: {problem}", "error")
        return redirect(f"/campaigns/new?article={article}")
    flash(request, "Draft made. Check the previews, then approve and schedule it.")
    return redirect(f"/campaigns/{slug}")


def _actions(state: str, origin: str) -> dict[str, bool]:
    return {
        "edit": origin != "file" and state in EDITABLE,
        "approve": state in APPROVABLE,
        "schedule": state in SCHEDULABLE,
        "pause": state in PAUSABLE and state != "paused",
        "resume": state == "paused",
        "cancel": state in CANCELLABLE,
    }


@router.get("/campaigns/{slug}")
def campaign_page(request: Request, slug: str, who: str = "") -> Response:
    engine = request.app.state.engine
    settings = request.app.state.settings
    campaign = get_lifecycle(engine, slug)
    preview_error = None
    preview = None
    try:
        preview = build_preview(engine, settings, slug)
    except ClinicmailError as problem:
        preview_error = str(problem)
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, slug)
        links = top_links(conn, slug)
    segments = preview.segments if preview else {s.name: s for s in settings.segments}
    now = utcnow()
    actions = _actions(campaign.state, campaign.origin)
    context = {
        "campaign": campaign,
        "preview": preview,
        "preview_error": preview_error,
        "metrics": metrics,
        "top_links": links,
        "label": lambda name: segment_label(segments, name),
        "actions": actions,
        "poll_seconds": poll_interval_seconds(campaign, now),
        "past_warning": past_time_warning(campaign, now, settings.clinic.zone),
        "who": who.strip(),
        "undo": undo_offer(request, slug),
        "who_answer": who_gets_it(
            engine,
            settings,
            campaign,
            preview.plan if preview else None,
            list(segments.values()),
            who.strip(),
        )
        if who.strip()
        else None,
        "demo_banner": metrics.simulated,
        "proposal": proposal(engine, settings, campaign) if actions["schedule"] else None,
        "resume_note": resume_refusal(settings, campaign, now) if actions["resume"] else None,
    }
    return render(request, "campaign.html", context)


@router.get("/campaigns/{slug}/preview/{segment}")
def campaign_preview(request: Request, slug: str, segment: str) -> Response:
    settings = request.app.state.settings
    preview = build_preview(request.app.state.engine, settings, slug, only_segment=segment)
    rendered = preview.rendered.get(segment)
    if rendered is None:
        raise NotFoundError(f"campaign {slug!r} has no variant for segment {segment!r}")
    return HTMLResponse(preview_html(settings, rendered), headers=EMAIL_PREVIEW_HEADERS)


@router.get("/campaigns/{slug}/progress")
def campaign_progress(request: Request, slug: str) -> Response:
    """What the campaign's page polls: the state, the running totals, and its figures panel
    (totals, bookings, the per-segment table and top links) drawn afresh."""
    engine = request.app.state.engine
    settings = request.app.state.settings
    campaign = get_lifecycle(engine, slug)
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, slug)
        links = top_links(conn, slug)
    segments = {segment.name: segment for segment in settings.segments}
    figures = templates.get_template("campaign_figures.html").render(
        metrics=metrics,
        top_links=links,
        clinic=settings.clinic,
        label=lambda name: segment_label(segments, name),
    )
    return JSONResponse(
        {
            "state": campaign.state,
            "reason": campaign.state_reason or "",
            "totals": metrics.totals.as_dict(),
            "click_rate": metrics.totals.click_rate,
            "figures_html": figures,
            "next_poll_seconds": poll_interval_seconds(campaign, utcnow()),
        }
    )


def _act(request: Request, slug: str, action: Callable[[], str], verb: str = "changed") -> Response:
    """Run a staff action and come back to the campaign's page, with what happened (or why
    not, in staff words) shown there."""
    try:
        flash(request, action())
    except StateError as problem:
        campaign = get_lifecycle(request.app.state.engine, slug)
        words = str(problem) if str(problem).startswith("It ") else state_words(campaign, verb)
        flash(request, words, "error")
    except ClinicmailError as problem:
        flash(request, str(problem), "error")
    return redirect(f"/campaigns/{slug}")


def _approve(request: Request, slug: str, user: StaffUser) -> str:
    app = request.app
    try:
        result = approve_checked_campaign(app.state.engine, app.state.settings, slug, user.email)
    except ChecksFailed as failed:
        first = failed.errors[0]
        where = "" if first.segment == "-" else f", for {first.segment}"
        raise StateError(
            f"It cannot be approved yet: {len(failed.errors)} check(s) must be fixed first; "
            f"the first{where}: {first.message}"
        ) from None
    if result.campaign.state != "approved":
        raise StateError(state_words(result.campaign, "approved"))
    return "Approved. Now choose when it goes out."


@router.post("/campaigns/{slug}/approve")
def campaign_approve(request: Request, slug: str, user: Staff) -> Response:
    return _act(request, slug, lambda: _approve(request, slug, user), "approved")


@router.post("/campaigns/{slug}/pause")
def campaign_pause(request: Request, slug: str, user: Staff) -> Response:
    engine = request.app.state.engine

    def pause() -> str:
        pause_campaign(engine, slug, user.email)
        return "Paused: nothing more goes out until you resume it."

    return _act(request, slug, pause, "paused")


@router.get("/campaigns/{slug}/cancel")
def campaign_cancel_confirm(request: Request, slug: str) -> Response:
    """The confirmation step before a cancel: what it stops, and whether it can be undone."""
    campaign = get_lifecycle(request.app.state.engine, slug)
    if campaign.state not in CANCELLABLE:
        flash(request, state_words(campaign, "cancelled"), "error")
        return redirect(f"/campaigns/{slug}")
    started = campaign.state in ("sending", "paused") and campaign.started_at is not None
    context = {
        "title": f"Cancel “{campaign.name}”?",
        "message": (
            "Emails not sent yet will never be sent; those already sent stay sent."
            if started
            else "Nothing of it goes out. For a few seconds after, you can undo this."
        ),
        "action": f"/campaigns/{slug}/cancel",
        "confirm_label": "Yes, cancel it",
        "back": f"/campaigns/{slug}",
        "back_label": "No, keep it",
        "danger": True,
    }
    return render(request, "confirm.html", context)


@router.post("/campaigns/{slug}/cancel")
def campaign_cancel(
    request: Request, slug: str, user: Staff, confirmed: Annotated[str, Form()] = ""
) -> Response:
    if confirmed != "yes":
        return redirect(f"/campaigns/{slug}/cancel")
    engine = request.app.state.engine

    def cancel() -> str:
        before = get_lifecycle(engine, slug)
        now = utcnow()
        cancel_campaign(engine, slug, user.email, now=now)
        offer_undo(request, slug, before.state, now)
        return "Cancelled: nothing more of it goes out."

    return _act(request, slug, cancel, "cancelled")


@router.post("/campaigns/{slug}/undo-cancel")
def campaign_undo_cancel(request: Request, slug: str) -> Response:
    def undo() -> str:
        offer = take_undo(request, slug)
        if offer is None:
            raise StateError("It is too late to undo the cancel: cancel it only when sure.")
        back_to, cancelled_at = offer
        with request.app.state.engine.begin() as conn:
            undone = lifecycle_store.undo_cancel(conn, slug, back_to, cancelled_at, utcnow())
        if not undone:
            raise StateError("The cancel cannot be undone any more: it changed since.")
        return f"Cancel undone: it is {back_to} again."

    return _act(request, slug, undo)


@router.post("/campaigns/{slug}/test")
def campaign_test_send(
    request: Request,
    slug: str,
    address: Annotated[str, Form()],
    segment: Annotated[str, Form()],
) -> Response:
    settings = request.app.state.settings

    def send() -> str:
        preview = build_preview(request.app.state.engine, settings, slug, only_segment=segment)
        rendered = preview.rendered.get(segment)
        if rendered is None:
            raise NotFoundError(f"campaign {slug!r} has no variant for segment {segment!r}")
        send_test_email(settings, rendered, address)
        return f"Test email sent to {address.strip()}."

    return _act(request, slug, send)
