"""Preview files of a campaign for `clinicmail campaign render`: `<segment>.html`, `.txt` and a
complete `.eml` per variant, filled in for a sample recipient or a real contact, and which
variant that contact would really get."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from pipeline.campaigns.plan import assignment_segments
from pipeline.campaigns.review import review_campaign
from pipeline.checks import preview_recipient
from pipeline.config import Settings
from pipeline.errors import InputError, StateError
from pipeline.models import Plan, Recipient, RenderedVariant, Segment
from pipeline.render.message import mime_bytes, personalise, recipient_values
from pipeline.store import utcnow
from pipeline.store.campaigns import variant_of_contact
from pipeline.store.contacts import get_contact, why_not_mailable


def rendered_for_preview(
    settings: Settings, plan: Plan, segments: Sequence[Segment], only: str | None
) -> list[RenderedVariant]:
    """The variants to write (all, or segment `only`'s), refusing a plan with nothing to render
    or a segment the plan has no variant for."""
    if not plan.variants:
        reasons = "; ".join(f"{s.segment}: {s.reason}" for s in plan.skipped) or "no segment"
        raise StateError(f"campaign {plan.campaign.slug!r} has nothing to render ({reasons})")
    if only is not None and all(variant.segment != only for variant in plan.variants):
        names = ", ".join(variant.segment for variant in plan.variants)
        raise InputError(
            f"campaign {plan.campaign.slug!r} has no variant for segment {only!r} "
            f"(variants: {names})"
        )
    return list(review_campaign(settings, plan, segments, only=only).rendered.values())


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
    segments: Sequence[Segment],
    out: Path,
    *,
    segment: str | None = None,
    contact: str | None = None,
) -> tuple[list[PreviewFile], str | None]:
    """`<segment>.html`, `.txt` and `.eml` in `out` for each variant (or one), filled in for a
    sample recipient or the contact with address `contact`; with a contact, also which variant
    that contact would really get."""
    rendered = rendered_for_preview(settings, plan, segments, segment)
    recipient = preview_recipient(settings)
    note = None
    if contact is not None:
        recipient, contact_id = contact_recipient(conn, settings, contact)
        note = f"{recipient.email} " + contact_variant(conn, settings, plan, segments, contact_id)
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
