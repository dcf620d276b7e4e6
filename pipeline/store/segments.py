"""Audience clauses over `contacts`: THE test of mailability and the one implementation of
segment rules, both as SQL so that audiences are counted and materialised set-based."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from pipeline.identity import normalise_tag
from pipeline.models import GENERAL_SEGMENT, Condition, Rule, Segment
from pipeline.store.tables import contacts, suppressions

# --- mailability -----------------------------------------------------------------------------


def _suppressed():
    return exists().where(suppressions.c.email_hash == contacts.c.email_hash)


def mailable_condition(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """THE test of whether a contact may be sent marketing email, as a clause over `contacts`:
    consent `subscribed`, no suppression of any reason for its address hash, and not paused
    (a pause ends at `paused_until`). Every sending path filters with this. `now` may be a bound
    parameter, for statements built once and run many times."""
    return and_(
        contacts.c.consent_status == "subscribed",
        not_(_suppressed()),
        or_(contacts.c.paused_until.is_(None), contacts.c.paused_until <= now),
    )


# --- segment rules ----------------------------------------------------------------------------


def segment_condition(
    segment: Segment, today: date, others: Sequence[Segment] = ()
) -> ColumnElement[bool]:
    """Whether a contact is in `segment`, as a clause over `contacts`; the only implementation of
    segment rules. `general` (no rule) means "in none of `others`" (pass the other segments;
    without them everyone is in general). Mailability is a separate clause: combine the two."""
    if segment.rule is None:
        if segment.name != GENERAL_SEGMENT and not others:
            return true()
        rules = [
            rule_condition(other.rule, today)
            for other in others
            if other.rule is not None and other.name != segment.name
        ]
        return not_(or_(false(), *rules)) if rules else true()
    return rule_condition(segment.rule, today)


def rule_condition(rule: Rule, today: date) -> ColumnElement[bool]:
    terms = [
        rule_condition(term, today) if isinstance(term, Rule) else _condition(term, today)
        for term in rule.terms
    ]
    if rule.mode == "all":
        return and_(true(), *terms)
    if rule.mode == "any":
        return or_(false(), *terms)
    # "not": none of the terms holds.
    return not_(or_(false(), *terms))


def like_escape(value: str) -> str:
    """`value` inside a LIKE pattern escaped by backslash: its own `%`, `_` and `\\` literal."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def has_tag(tag: str) -> ColumnElement[bool]:
    return contacts.c.tags.like(f"%,{like_escape(normalise_tag(tag))},%", escape="\\")


def _values(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]


def _condition(condition: Condition, today: date) -> ColumnElement[bool]:
    op, value = condition.op, condition.value
    if condition.field == "tags":
        if op == "present":
            return contacts.c.tags != ","
        if op in ("equals", "in"):
            return or_(false(), *(has_tag(tag) for tag in _values(value)))
        if op == "contains":
            # A substring of any one tag: ",a,b," never puts a comma inside a tag.
            return or_(
                false(),
                *(
                    contacts.c.tags.like(f"%{like_escape(normalise_tag(part))}%", escape="\\")
                    for part in _values(value)
                ),
            )
        raise ValueError(f"tags cannot be tested with {op!r}")
    name = condition.field.removeprefix("attributes.")
    # ->> on PostgreSQL, json_extract on SQLite: the attribute as text, NULL when absent.
    attribute = contacts.c.attributes[name].as_string()
    # Every test starts with IS NOT NULL so that a missing attribute gives FALSE, never NULL:
    # NOT over a NULL stays NULL, which would drop the contact from `not` rules and `general`.
    return and_(attribute.is_not(None), _attribute_test(attribute, op, value, today))


def _attribute_test(attribute, op: str, value: Any, today: date) -> ColumnElement[bool]:
    if op == "present":
        return func.trim(attribute) != ""
    if op in ("equals", "in"):
        wanted = [item.strip().lower() for item in _values(value)]
        return func.lower(func.trim(attribute)).in_(wanted)
    if op == "contains":
        return or_(
            false(),
            *(
                func.lower(attribute).like(f"%{like_escape(part.lower())}%", escape="\\")
                for part in _values(value)
            ),
        )
    if op == "within":
        unit, count = value
        since = months_before(today, count) if unit == "months" else today - timedelta(days=count)
        # Dates are stored as ISO strings (YYYY-MM-DD), which compare in date order; "~" sorts
        # after any time part, so a value with one still counts on its day.
        return and_(attribute >= since.isoformat(), attribute <= today.isoformat() + "~")
    raise ValueError(f"unknown operator {op!r}")


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier, clamped to the month's end (31 Aug - 6 months: 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- audience sizes ---------------------------------------------------------------------------


def segment_counts(
    conn: Connection, segments: Sequence[Segment], today: date, now: datetime
) -> dict[str, dict[str, Any]]:
    """Per segment: all contacts in it, the mailable ones, and how many mailable ones it shares
    with each other segment (`general`: in none of the others).

    One scan of `contacts` that evaluates each rule and the mailability test once per row and
    groups by the resulting flags: at most 2^(segments + 1) groups, summed here. (SUM(CASE ...)
    columns per figure and pair would evaluate every rule and the suppression lookup many times
    per row.)"""
    ruled = [segment for segment in segments if segment.rule is not None]
    flags = [
        case((segment_condition(segment, today), 1), else_=0).label(f"in_{index}")
        for index, segment in enumerate(ruled)
    ]
    flags.append(case((mailable_condition(now), 1), else_=0).label("mailable"))
    per_row = select(*flags).select_from(contacts).subquery()
    grouped = select(*per_row.c, func.count()).group_by(*per_row.c)
    names = [segment.name for segment in segments]
    result: dict[str, dict[str, Any]] = {
        name: {"contacts": 0, "mailable": 0, "overlap": {n: 0 for n in names if n != name}}
        for name in names
    }
    for *membership, mailable, count in conn.execute(grouped):
        member_of = [s.name for s, inside in zip(ruled, membership, strict=True) if inside]
        if not member_of:
            member_of = [s.name for s in segments if s.rule is None]
        for name in member_of:
            result[name]["contacts"] += count
            if mailable:
                result[name]["mailable"] += count
                for other in member_of:
                    if other != name:
                        result[name]["overlap"][other] += count
    return result


def mailable_count(conn: Connection, now: datetime) -> int:
    return conn.execute(
        select(func.count()).select_from(contacts).where(mailable_condition(now))
    ).scalar_one()
