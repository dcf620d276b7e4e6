"""Campaign queries: which variant each mailable contact gets, counted the way the outbox
materialises it, and the previous digest a digest campaign follows on from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from pipeline.models import Segment
from pipeline.store.contacts import mailable_condition, segment_condition
from pipeline.store.tables import campaigns, contacts


def assignment_case(
    ordered: Sequence[tuple[Segment, Any]],
    general_value: Any | None,
    today: date,
    excluded: Sequence[Segment] = (),
) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    """The CASE that gives each contact one variant, and the clause of who gets one at all.

    `ordered` pairs each segment with the SQL value its contacts get (a segment name, a variant
    id), best-fitting segment first: a contact in several segments takes the first branch it
    matches. Contacts in none of them get `general_value` when general is targeted (not None),
    except members of `excluded` (segments a campaign's explicit list leaves out); without
    general they are not in the audience. A client who chose topics on the preferences page is
    in the audience only when the campaign fits one of them. Plan counts and the outbox's
    INSERT … SELECT both use this, so the counts staff see are the rows that get written."""
    branches = [(segment_condition(segment, today), value) for segment, value in ordered]
    chosen = or_(false(), *(condition for condition, _ in branches))
    interested = topics_condition([segment.name for segment, _ in ordered])
    if general_value is None:
        if not branches:
            return literal(None, String), false()
        return case(*branches, else_=None), and_(chosen, interested)
    fallback: Any = literal(general_value)
    assigned = case(*branches, else_=fallback) if branches else fallback
    left_out = [segment_condition(segment, today) for segment in excluded if segment.rule]
    if not left_out:
        return assigned, interested
    return assigned, and_(or_(chosen, not_(or_(*left_out))), interested)


def topics_condition(fitting_segments: Sequence[str]) -> ColumnElement[bool]:
    """True for contacts who want everything (no topics chosen) or chose one of the segments the
    campaign fits. contacts.topics is a JSON list of segment names written sorted by the
    preferences page; matching its text for the quoted name works alike on SQLite and
    PostgreSQL (JSON functions differ), and autoescape keeps the `_` in names literal."""
    as_text = cast(contacts.c.topics, Text)
    wants_everything = as_text == "[]"
    return or_(
        wants_everything,
        *(as_text.contains(f'"{name}"', autoescape=True) for name in fitting_segments),
    )


def audience_by_variant(
    conn: Connection,
    ordered: Sequence[Segment],
    include_general: bool,
    general_name: str,
    now: datetime,
    today: date,
    excluded: Sequence[Segment] = (),
) -> dict[str, int]:
    """How many mailable contacts each variant gets (keyed by segment name, zero included)."""
    assigned, in_audience = assignment_case(
        [(segment, segment.name) for segment in ordered],
        general_name if include_general else None,
        today,
        excluded,
    )
    # Grouped over a subquery: PostgreSQL will not group by a CASE whose bound values it
    # cannot see are the same in the select list and the GROUP BY.
    audience = (
        select(assigned.label("variant"))
        .select_from(contacts)
        .where(mailable_condition(now), in_audience)
        .subquery()
    )
    rows = conn.execute(select(audience.c.variant, func.count()).group_by(audience.c.variant)).all()
    counts = {segment.name: 0 for segment in ordered}
    if include_general:
        counts[general_name] = 0
    counts.update({variant: count for variant, count in rows if variant is not None})
    return counts


def campaign_id_by_slug(conn: Connection, slug: str) -> int | None:
    return conn.execute(select(campaigns.c.id).where(campaigns.c.slug == slug)).scalar_one_or_none()


def variant_of_contact(
    conn: Connection,
    contact_id: int,
    ordered: Sequence[Segment],
    general_name: str | None,
    now: datetime,
    today: date,
    excluded: Sequence[Segment] = (),
) -> str | None:
    """The segment whose variant one contact would get (the same CASE as the counts), or None
    when the contact is not mailable or outside the audience."""
    assigned, in_audience = assignment_case(
        [(segment, segment.name) for segment in ordered], general_name, today, excluded
    )
    return conn.execute(
        select(assigned)
        .select_from(contacts)
        .where(contacts.c.id == contact_id, mailable_condition(now), in_audience)
    ).scalar_one_or_none()
