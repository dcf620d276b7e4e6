"""Choosing when a campaign goes out, in staff words: the proposed next slot the sending rules
allow, the explanation of a chosen time before it is submitted (quiet hours, closures, the
weekly cap), "Send now", and a Resume that says why a campaign cannot resume yet instead of
flipping back to paused."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from pipeline.campaigns.actions import (
    get_lifecycle,
    resume_campaign,
    schedule_campaign,
)
from pipeline.campaigns.slots import (
    SEND_NOW_DELAY,
    SlotExplanation,
    explain_proposal,
    explain_slot,
    next_allowed_slot,
    readable_moment,
)
from pipeline.config import Settings
from pipeline.errors import ClinicmailError, InputError, StateError
from pipeline.models import SCHEDULABLE, CampaignLifecycle
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.timerules import beyond_grace, describe_delay, sending_allowed
from pipeline.web.staff.campaign_preview import local_datetime
from pipeline.web.staff.rendering import flash, redirect

router = APIRouter(include_in_schema=False)


def explain(engine: Engine, settings: Settings, campaign: CampaignLifecycle, when: datetime):
    now = utcnow()
    with engine.connect() as conn:
        capped = lifecycle_store.contacts_at_weekly_cap(
            conn, campaign.id, max(when, now), settings.sending.weekly_cap
        )
    return explain_slot(settings, when, now, capped)


def proposal(engine: Engine, settings: Settings, campaign: CampaignLifecycle) -> dict:
    """The schedule form's starting values: the next allowed slot, explained."""
    now = utcnow()
    slot = next_allowed_slot(settings, now)
    local = slot.astimezone(settings.clinic.zone)
    with engine.connect() as conn:
        capped = lifecycle_store.contacts_at_weekly_cap(
            conn, campaign.id, slot, settings.sending.weekly_cap
        )
    return {
        "day": local.date().isoformat(),
        "clock": f"{local:%H:%M}",
        "explanation": explain_proposal(settings, now, capped),
    }


def _chosen(settings: Settings, day: str, clock: str) -> datetime:
    if not day or not clock:
        raise InputError("choose a day and a time")
    return local_datetime(settings, day, clock)


@router.get("/campaigns/{slug}/when")
def explain_time(request: Request, slug: str, day: str = "", clock: str = "") -> Response:
    """What the schedule form says as its fields change: when the campaign would go out."""
    engine, settings = request.app.state.engine, request.app.state.settings
    campaign = get_lifecycle(engine, slug)
    try:
        explanation = explain(engine, settings, campaign, _chosen(settings, day, clock))
    except InputError as problem:
        return JSONResponse(
            {"possible": False, "sentence": f"{problem.detail[:1].upper()}{problem.detail[1:]}."}
        )
    return JSONResponse({"possible": explanation.possible, "sentence": explanation.sentence})


def _schedule_for(request: Request, campaign: CampaignLifecycle, when: datetime) -> SlotExplanation:
    engine, settings = request.app.state.engine, request.app.state.settings
    if campaign.state not in SCHEDULABLE:
        raise StateError(state_words(campaign, "scheduled"))
    explanation = explain(engine, settings, campaign, when)
    if not explanation.possible:
        raise InputError(explanation.sentence)
    schedule_campaign(engine, settings, campaign.slug, at=when)
    return explanation


def state_words(campaign: CampaignLifecycle, action: str) -> str:
    """Why `action` cannot be done to the campaign now, as staff would put it."""
    why = {
        "draft": "it is a draft: approve it first",
        "approved": "it is approved but has no time yet",
        "scheduled": "it is scheduled",
        "sending": "it is sending now",
        "paused": "it is paused",
        "sent": "it has been sent",
        "cancelled": "it was cancelled",
        "missed": "its time went by: give it a new time",
        "failed": campaign.state_reason or "it failed",
    }.get(campaign.state, f"it is {campaign.state}")
    return f"It cannot be {action} now: {why}."


def _run(request: Request, slug: str, action) -> Response:
    try:
        flash(request, action())
    except ClinicmailError as problem:
        detail = problem.detail if isinstance(problem, InputError) else str(problem)
        flash(request, detail, "error")
    return redirect(f"/campaigns/{slug}")


@router.post("/campaigns/{slug}/schedule")
async def campaign_schedule(request: Request, slug: str) -> Response:
    form = await request.form()
    settings = request.app.state.settings

    def schedule() -> str:
        campaign = get_lifecycle(request.app.state.engine, slug)
        when = _chosen(settings, str(form.get("day", "")), str(form.get("clock", "")))
        explanation = _schedule_for(request, campaign, when)
        return f"Scheduled. {explanation.sentence}"

    return _run(request, slug, schedule)


@router.post("/campaigns/{slug}/send-now")
def campaign_send_now(request: Request, slug: str) -> Response:
    """Start as soon as the rules allow: in a few seconds, or when quiet hours end."""
    engine, settings = request.app.state.engine, request.app.state.settings

    def send_now() -> str:
        campaign = get_lifecycle(engine, slug)
        now = utcnow()
        allowed = sending_allowed(now + SEND_NOW_DELAY, settings)
        when = now + SEND_NOW_DELAY if allowed is True else allowed
        explanation = _schedule_for(request, campaign, when)
        if allowed is True:
            return "Sending starts in a few seconds; the figures below follow it."
        return f"Not yet: quiet hours or a closure. {explanation.sentence}"

    return _run(request, slug, send_now)


def resume_refusal(settings: Settings, campaign: CampaignLifecycle, now: datetime) -> str | None:
    """Why a paused campaign cannot resume now, or None when it can."""
    zone = settings.clinic.zone
    if campaign.resume_at is not None:
        return (
            f"It resumes by itself at {readable_moment(campaign.resume_at, now, zone)}, "
            "when quiet hours or the closure end; nothing needs doing."
        )
    due = campaign.scheduled_for
    if (
        campaign.started_at is None
        and not campaign.cron
        and due is not None
        and beyond_grace(due, now, settings.sending.grace_minutes)
    ):
        return (
            f"It cannot resume: its time ({readable_moment(due, now, zone)}) passed "
            f"{describe_delay(now - due)} ago, longer than the "
            f"{settings.sending.grace_minutes} minutes it may start late. Cancel it, or "
            "make a new campaign from the article."
        )
    return None


@router.post("/campaigns/{slug}/resume")
def campaign_resume(request: Request, slug: str) -> Response:
    engine, settings = request.app.state.engine, request.app.state.settings

    def resume() -> str:
        campaign = get_lifecycle(engine, slug)
        now = utcnow()
        if campaign.state != "paused":
            raise StateError(state_words(campaign, "resumed"))
        refusal = resume_refusal(settings, campaign, now)
        if refusal:
            raise StateError(refusal)
        allowed = sending_allowed(now, settings)
        if campaign.started_at is not None and allowed is not True:
            # Resuming now would only be paused again by the quiet-hours hold a moment later;
            # it is handed to that hold instead, which resumes it when sending is allowed.
            when = readable_moment(allowed, now, settings.clinic.zone)
            reason = f"held by quiet hours or a closure until {when}; it resumes by itself"
            with engine.begin() as conn:
                lifecycle_store.transition(
                    conn, slug, ("paused",), "paused", now, resume_at=allowed, state_reason=reason
                )
            return f"Not yet: quiet hours or a closure until {when}. It resumes by itself then."
        result = resume_campaign(engine, settings, slug, now=now)
        if result.campaign.state == "sending":
            return "Resumed: sending again."
        scheduled = result.campaign.scheduled_for
        assert scheduled is not None
        return f"Resumed: it goes out {readable_moment(scheduled, now, settings.clinic.zone)}."

    return _run(request, slug, resume)
