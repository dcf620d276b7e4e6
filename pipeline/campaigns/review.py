"""Reviewing a campaign before it is sent: its plan as data, every variant rendered and checked,
and preview files (HTML, text and a complete .eml per variant)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.campaigns.copy_checks import copy_findings
from pipeline.campaigns.document import spec_from_document
from pipeline.campaigns.plan import assignment_segments, plan_campaign
from pipeline.campaigns.spec import load_campaign_spec
from pipeline.checks import check_rendered, preview_recipient
from pipeline.config import Settings
from pipeline.errors import InputError, NotFoundError, StateError
from pipeline.models import CampaignSpec, Finding, Plan, Recipient, RenderedVariant, Segment
from pipeline.render import mime_bytes, personalise, recipient_values, render_variant
from pipeline.segments import load_segments
from pipeline.store import utcnow
from pipeline.store.campaigns import variant_of_contact
from pipeline.store.contacts import get_contact, why_not_mailable
from pipeline.store.lifecycle import campaign_spec_document

if TYPE_CHECKING:
    from sqlalchemy import Connection


def resolve_campaign_spec(conn: Connection, settings: Settings, slug: str) -> CampaignSpec:
    """A campaign by slug: its file in campaigns/ (the source of truth for file campaigns), else
    the spec its database row keeps (campaigns made in the web app, digest occurrences)."""
    try:
        return load_campaign_spec(settings.workspace, slug, settings.clinic.zone)
    except NotFoundError:
        document = campaign_spec_document(conn, slug)
        if document is None:
            raise
        return spec_from_document(document)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as `campaign plan --json` prints it."""
    spec = plan.campaign
    return {
        "campaign": spec.slug,
        "name": spec.name,
        "template": spec.template,
        "articles": [article.slug for article in plan.articles],
        "threshold": plan.threshold,
        "variants": [
            {
                "segment": variant.segment,
                "code": variant.segment_code,
                "audience": variant.audience,
                "score": variant.score,
                "matches": dict(variant.matches),
                "subject": variant.subject,
                "preheader": variant.preheader,
                "intro": variant.intro,
                "cta": variant.cta,
                "excerpt": list(variant.excerpt),
                "articles": list(variant.articles),
            }
            for variant in plan.variants
        ],
        "skipped": [{"segment": s.segment, "reason": s.reason} for s in plan.skipped],
    }


def render_plan(settings: Settings, plan: Plan, only: str | None = None) -> list[RenderedVariant]:
    """Each variant of the plan rendered once (or just the variant of segment `only`)."""
    if not plan.variants:
        reasons = "; ".join(f"{s.segment}: {s.reason}" for s in plan.skipped) or "no segment"
        raise StateError(f"campaign {plan.campaign.slug!r} has nothing to render ({reasons})")
    variants = plan.variants
    if only is not None:
        variants = tuple(variant for variant in variants if variant.segment == only)
        if not variants:
            names = ", ".join(variant.segment for variant in plan.variants)
            raise InputError(
                f"--segment {only!r}: campaign {plan.campaign.slug!r} has no such variant "
                f"(variants: {names})"
            )
    return [
        render_variant(
            settings, variant, plan.articles, plan.campaign.template, utm=plan.campaign.utm
        )
        for variant in variants
    ]


def check_plan(settings: Settings, plan: Plan, segments: Sequence[Segment]) -> list[Finding]:
    """Every finding for every variant of the plan; a plan with no variant is one error."""
    if not plan.variants:
        reasons = "; ".join(s.reason for s in plan.skipped) or "it targets no segment"
        return [Finding("-", "error", "plan", f"no variant to send: {reasons}")]
    by_name = {segment.name: segment for segment in segments}
    rendered = render_plan(settings, plan)
    return [
        *(
            finding
            for variant in rendered
            for finding in check_rendered(settings, variant, by_name.get(variant.segment))
        ),
        *copy_findings(settings, plan, rendered),
    ]


@dataclass(frozen=True)
class PreviewFile:
    segment: str
    paths: tuple[Path, ...]


def contact_recipient(conn: Connection, settings: Settings, email: str) -> tuple[Recipient, int]:
    contact = get_contact(conn, email)
    assert contact.id is not None
    values = recipient_values(settings, contact.id, contact.email, contact.first_name, 0)
    return Recipient(0, contact.email, values), contact.id


def contact_variant(
    conn: Connection, settings: Settings, plan: Plan, segments: Sequence[Segment], contact_id: int
) -> str:
    """Which variant this contact would get, or why none, in words."""
    now = utcnow()
    reason = why_not_mailable(conn, contact_id, now)
    if reason:
        return f"gets no email: {reason}"
    ordered, general, excluded = assignment_segments(plan, segments)
    today = now.astimezone(settings.clinic.zone).date()
    chosen = variant_of_contact(conn, contact_id, ordered, general, now, today, excluded)
    if chosen is None:
        return "gets no email: in no segment this campaign targets"
    return f"gets the {chosen!r} variant"


def write_previews(
    conn: Connection,
    settings: Settings,
    plan: Plan,
    out: Path,
    *,
    segment: str | None = None,
    contact: str | None = None,
) -> tuple[list[PreviewFile], str | None]:
    """`<segment>.html`, `.txt` and `.eml` in `out` for each variant (or one), filled in for a
    sample recipient or the contact with address `contact`; with a contact, also which variant
    that contact would really get."""
    rendered = render_plan(settings, plan, segment)
    recipient = preview_recipient(settings)
    note = None
    if contact is not None:
        recipient, contact_id = contact_recipient(conn, settings, contact)
        note = f"{recipient.email} " + contact_variant(
            conn, settings, plan, load_segments(settings.workspace), contact_id
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for variant in rendered:
        message = personalise(variant, recipient, settings)
        files = (
            (out / f"{variant.segment}.html", message.html.encode("utf-8")),
            (out / f"{variant.segment}.txt", message.text.encode("utf-8")),
            (out / f"{variant.segment}.eml", mime_bytes(message, settings)),
        )
        for path, data in files:
            path.write_bytes(data)
        written.append(PreviewFile(variant.segment, tuple(path for path, _ in files)))
    return written, note


def review_plan(conn: Connection, settings: Settings, slug: str) -> tuple[Plan, list[Segment]]:
    """The campaign's spec resolved and planned, with the segments it was planned against."""
    segments = load_segments(settings.workspace)
    spec = resolve_campaign_spec(conn, settings, slug)
    return plan_campaign(conn, settings, spec, segments=segments), segments
