"""Editing a campaign made in the staff app: per segment its subject, preheader, intro and
excerpt paragraphs (numbers of the article's paragraphs), the relevance threshold and the
segments it targets, with the previews and check findings beside the form. Saving an approved
or scheduled campaign sends it back to draft, as editing a campaign file does. Campaigns from
files stay read-only here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.datastructures import FormData

from pipeline.campaigns import load_plan, spec_document
from pipeline.campaigns.actions import get_lifecycle
from pipeline.campaigns.sync import spec_hash
from pipeline.errors import ClinicmailError, InputError, StateError
from pipeline.models import CampaignLifecycle, CampaignSpec, SegmentOverride, StaffUser
from pipeline.segments import segment_label
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.store.articles import get_article
from pipeline.web.auth import staff_user
from pipeline.web.staff.campaign_preview import build_preview, campaign_spec
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
Staff = Annotated[StaffUser, Depends(staff_user)]
# States whose campaign can still change: nothing has been sent yet.
EDITABLE = ("draft", "approved", "scheduled", "missed")


def refuse_unless_editable(campaign: CampaignLifecycle) -> None:
    if campaign.origin == "file":
        raise StateError(
            f"“{campaign.name}” is defined in campaigns/{campaign.slug}.yaml: change that file "
            "(it is read-only here), and the change reaches the app at the next sync"
        )
    if campaign.state not in EDITABLE:
        raise StateError(
            f"“{campaign.name}” is {campaign.state}: only a campaign that has not started "
            "sending can be changed"
        )


def _numbers(values: list[str], segment: str) -> tuple[int, ...] | None:
    try:
        chosen = tuple(sorted({int(value) for value in values}))
    except ValueError:
        raise InputError(f"{segment}: excerpt paragraphs are paragraph numbers") from None
    return chosen or None


def _threshold(raw: str) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"threshold {raw!r}: give a number between 0 and 1, like 0.25") from None
    if not 0 <= value <= 1:
        raise InputError(f"threshold {value:g}: give a number between 0 and 1, like 0.25")
    return value


def edited_spec(spec: CampaignSpec, form: FormData, segment_names: list[str]) -> CampaignSpec:
    """The spec with what the editor's form says; fields left empty fall back to what the plan
    derives from the article."""
    targeted = [name for name in segment_names if form.get(f"target.{name}") == "on"]
    if not targeted:
        raise InputError("tick at least one segment to send to")
    overrides = {}
    for name in segment_names:
        override = SegmentOverride(
            subject=str(form.get(f"subject.{name}", "")).strip() or None,
            preheader=str(form.get(f"preheader.{name}", "")).strip() or None,
            intro=str(form.get(f"intro.{name}", "")).strip() or None,
            excerpt=_numbers([str(v) for v in form.getlist(f"excerpt.{name}")], name),
        )
        if override != SegmentOverride():
            overrides[name] = override
    name = " ".join(str(form.get("name", "")).split()) or spec.name
    return replace(
        spec,
        name=name,
        segments="all" if set(targeted) == set(segment_names) else tuple(targeted),
        overrides=overrides,
        threshold=_threshold(str(form.get("threshold", ""))),
    )


def save_edited_campaign(
    engine: Engine, campaign: CampaignLifecycle, spec: CampaignSpec, edited_by: str, now: datetime
) -> bool:
    """Store the edited spec; an approved or scheduled campaign goes back to draft, to be
    approved again. True when it went back to draft."""
    with engine.connect() as conn:
        document = dict(lifecycle_store.campaign_spec_document(conn, campaign.slug) or {})
    new_document = spec_document(spec) | {"created_by": document.get("created_by")}
    back_to_draft = campaign.state != "draft"
    values = {}
    if back_to_draft:
        values = {
            "state": "draft",
            "approved_by": None,
            "approved_at": None,
            "state_reason": f"changed by {edited_by} after approval: approve it again",
        }
    with engine.begin() as conn:
        stored = lifecycle_store.update_spec(
            conn, campaign.id, expected_hash=campaign.spec_hash, name=spec.name,
            spec=new_document, spec_hash=spec_hash(new_document), now=now, **values,
        )  # fmt: skip
    if not stored:
        raise StateError("someone else changed or started this campaign meanwhile: reload it")
    return back_to_draft


def _editor_context(request: Request, slug: str, segment: str = "") -> dict:
    engine, settings = request.app.state.engine, request.app.state.settings
    campaign = get_lifecycle(engine, slug)
    refuse_unless_editable(campaign)
    spec = campaign_spec(engine, slug)
    segments = settings.segments
    with engine.connect() as conn:
        article = get_article(conn, spec.article) if spec.article else None
    preview = None
    problem = None
    try:
        preview = build_preview(engine, settings, slug)
    except ClinicmailError as error:
        problem = str(error)
    variants = {variant.segment: variant for variant in preview.plan.variants} if preview else {}
    shown = segment if segment in variants else next(iter(variants), "")
    return {
        "campaign": campaign,
        "spec": spec,
        "segments": segments,
        "article": article,
        "preview": preview,
        "variants": variants,
        "problem": problem,
        "shown": shown,
        "label": lambda name: segment_label({s.name: s for s in segments}, name),
        "skipped": {s.segment: s.reason for s in preview.plan.skipped} if preview else {},
        "targeted": [s.name for s in segments] if spec.segments == "all" else list(spec.segments),
    }


@router.get("/campaigns/{slug}/edit")
def campaign_editor_page(request: Request, slug: str, segment: str = "") -> Response:
    return render(request, "campaign_editor.html", _editor_context(request, slug, segment))


def _findings(context: dict) -> list[dict]:
    preview = context["preview"]
    if preview is None:
        return [{"level": "error", "segment": "", "message": context["problem"]}]
    return [
        {"level": f.level, "segment": context["label"](f.segment), "message": f.message}
        for f in preview.findings
    ]


@router.post("/campaigns/{slug}/edit")
async def campaign_edit(request: Request, slug: str, user: Staff) -> Response:
    """Save the editor's form. The editor's script posts it as the fields change and asks for
    JSON (the findings and the variants to preview); without the script, the page reloads."""
    engine, settings = request.app.state.engine, request.app.state.settings
    wants_json = "application/json" in request.headers.get("accept", "")
    form = await request.form()
    campaign = get_lifecycle(engine, slug)
    try:
        refuse_unless_editable(campaign)
        names = [segment.name for segment in settings.segments]
        spec = edited_spec(campaign_spec(engine, slug), form, names)
        with engine.connect() as conn:
            # The plan is made before saving, so a change it refuses (a paragraph number the
            # article lacks) is never stored.
            load_plan(conn, settings, spec, settings.segments)
        back_to_draft = save_edited_campaign(engine, campaign, spec, user.email, utcnow())
    except ClinicmailError as problem:
        if wants_json:
            return JSONResponse({"saved": False, "message": str(problem)}, status_code=422)
        flash(request, f"Not saved: {problem}", "error")
        return redirect(f"/campaigns/{slug}/edit")
    message = "Saved."
    if back_to_draft:
        message += " It is a draft again: approve it again before it goes out."
    if wants_json:
        context = _editor_context(request, slug)
        return JSONResponse(
            {
                "saved": True,
                "message": message,
                "findings": _findings(context),
                "variants": list(context["variants"]),
                "state": "draft",
            }
        )
    flash(request, message)
    return redirect(f"/campaigns/{slug}/edit?segment={form.get('shown', '')}")
