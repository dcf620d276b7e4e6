"""Contacts and suppressions in the database: who is mailable, who is in a segment, and the
named queries behind import, export, erase and unsubscribe. The one place that decides
mailability (`mailable_condition`) and the one implementation of segment rules
(`segment_condition`)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.contacts.normalise import (
    email_hash,
    email_key,
    is_email_hash,
    normalise_tag,
    tags_from_column,
    tags_to_column,
)
from pipeline.errors import NotFoundError
from pipeline.models import GENERAL_SEGMENT, Condition, Contact, Rule, Segment
from pipeline.store.tables import contacts, suppressions
from pipeline.store.types import utcnow

SUPPRESSION_REASONS = ("bounce", "complaint", "unsubscribe", "manual", "erased", "invalid")
_REASON_WORDS = {
    "bounce": "the address bounced",
    "complaint": "they reported an email as spam",
    "unsubscribe": "they unsubscribed",
    "manual": "staff suppressed the address",
    "erased": "their data was erased on request",
    "invalid": "the address is invalid",
}


# --- mailability -----------------------------------------------------------------------------


def _suppressed():
    return exists().where(suppressions.c.email_hash == contacts.c.email_hash)


def mailable_condition(now: datetime) -> ColumnElement[bool]:
    """THE test of whether a contact may be sent marketing email, as a clause over `contacts`:
    consent `subscribed`, no suppression of any reason for its address hash, and not paused
    (a pause ends at `paused_until`). Every sending path filters with this."""
    return and_(
        contacts.c.consent_status == "subscribed",
        not_(_suppressed()),
        or_(contacts.c.paused_until.is_(None), contacts.c.paused_until <= now),
    )


def why_not_mailable(conn: Connection, contact_id: int, now: datetime) -> str | None:
    """None when the contact is mailable, else why not, in words staff can act on. Agrees with
    `mailable_condition` (a test checks both on the same contacts)."""
    row = conn.execute(
        select(
            contacts.c.email_hash,
            contacts.c.consent_status,
            contacts.c.consent_source,
            contacts.c.consent_at,
            contacts.c.paused_until,
        ).where(contacts.c.id == contact_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    reasons = []
    found = conn.execute(
        select(suppressions.c.reason, suppressions.c.source, suppressions.c.created_at)
        .where(suppressions.c.email_hash == row.email_hash)
        .order_by(suppressions.c.created_at)
    ).all()
    for suppression in found:
        reasons.append(
            f"suppressed: {_REASON_WORDS.get(suppression.reason, suppression.reason)} "
            f"({suppression.source}, {suppression.created_at:%Y-%m-%d})"
        )
    if row.consent_status == "unsubscribed":
        when = f", {row.consent_at:%Y-%m-%d}" if row.consent_at else ""
        reasons.append(f"consent withdrawn ({row.consent_source or 'unknown source'}{when})")
    elif row.consent_status != "subscribed":
        reasons.append("no marketing consent recorded")
    if row.paused_until is not None and row.paused_until > now:
        reasons.append(f"paused until {row.paused_until:%Y-%m-%d %H:%M} UTC")
    return "; ".join(reasons) or None


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


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tag(tag: str) -> ColumnElement[bool]:
    return contacts.c.tags.like(f"%,{_like_escape(normalise_tag(tag))},%", escape="\\")


def _values(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]


def _condition(condition: Condition, today: date) -> ColumnElement[bool]:
    op, value = condition.op, condition.value
    if condition.field == "tags":
        if op == "present":
            return contacts.c.tags != ","
        if op in ("equals", "in"):
            return or_(false(), *(_has_tag(tag) for tag in _values(value)))
        if op == "contains":
            # A substring of any one tag: ",a,b," never puts a comma inside a tag.
            return or_(
                false(),
                *(
                    contacts.c.tags.like(f"%{_like_escape(normalise_tag(part))}%", escape="\\")
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
                func.lower(attribute).like(f"%{_like_escape(part.lower())}%", escape="\\")
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


# --- suppressions and unsubscribes ------------------------------------------------------------


def _insert_ignoring_duplicates(conn: Connection, table, values: Mapping[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either database; True when a row went in. A
    duplicate must not abort the surrounding transaction, as catching IntegrityError would on
    PostgreSQL."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)
    return conn.execute(statement, values).first() is not None


def suppress(
    conn: Connection,
    email_or_hash: str,
    reason: str,
    source: str,
    detail: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Suppress an address (or its hash) for `reason`; True when this suppression is new.
    Repeating one is harmless."""
    if reason not in SUPPRESSION_REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    hashed = email_or_hash if is_email_hash(email_or_hash) else email_hash(email_or_hash)
    return _insert_ignoring_duplicates(
        conn,
        suppressions,
        {
            "email_hash": hashed,
            "reason": reason,
            "source": source[:40],
            "detail": detail,
            "created_at": now or utcnow(),
        },
    )


def unsubscribe_contact(conn: Connection, contact_id: int, source: str, now: datetime) -> bool:
    """Withdraw the contact's consent and suppress their address, at once. True when they were
    not already unsubscribed. A later import cannot make them mailable again: an import never
    turns `unsubscribed` back into `subscribed`, and the suppression stays."""
    row = conn.execute(
        select(contacts.c.email_hash, contacts.c.consent_status).where(contacts.c.id == contact_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    changed = row.consent_status != "unsubscribed"
    if changed:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(
                consent_status="unsubscribed",
                consent_source=source,
                consent_at=now,
                consent_wording=None,
                updated_at=now,
            )
        )
    suppress(conn, row.email_hash, "unsubscribe", source, now=now)
    return changed


def suppressed_hashes(conn: Connection, hashes: Iterable[str], reason: str) -> set[str]:
    """Which of these address hashes carry a suppression of `reason`."""
    wanted = list(hashes)
    if not wanted:
        return set()
    return set(
        conn.execute(
            select(suppressions.c.email_hash).where(
                suppressions.c.reason == reason, suppressions.c.email_hash.in_(wanted)
            )
        ).scalars()
    )


# --- single contacts --------------------------------------------------------------------------


def _contact_from_row(row) -> Contact:
    return Contact(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        tags=tags_from_column(row.tags),
        attributes=dict(row.attributes or {}),
        consent_status=row.consent_status,
        consent_source=row.consent_source,
        consent_at=row.consent_at,
        consent_wording=row.consent_wording,
    )


def get_contact(conn: Connection, email: str) -> Contact:
    """The contact with this address (any case); NotFoundError when there is none."""
    row = conn.execute(select(contacts).where(contacts.c.email_key == email_key(email))).first()
    if row is None:
        raise NotFoundError(f"no contact with the address {email.strip()!r}")
    return _contact_from_row(row)


def get_contact_by_id(conn: Connection, contact_id: int) -> Contact:
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    return _contact_from_row(row)


def contact_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(contacts)).scalar_one()


# --- bulk writes for the import ---------------------------------------------------------------

# The columns an import compares and writes; the rest (topics, pause) belong to the client.
IMPORTED_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "tags",
    "attributes",
    "consent_status",
    "consent_source",
    "consent_at",
    "consent_wording",
)


def contacts_by_key(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored contacts among these email keys, as {key: {id, email_hash, imported columns}};
    one SELECT for a whole chunk of an import."""
    if not keys:
        return {}
    columns = [contacts.c.id, contacts.c.email_key, contacts.c.email_hash] + [
        contacts.c[name] for name in IMPORTED_COLUMNS
    ]
    rows = conn.execute(select(*columns).where(contacts.c.email_key.in_(list(keys))))
    return {row.email_key: dict(row._mapping) for row in rows}


def insert_contacts(conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Insert new contacts in one executemany (multi-row VALUES under SQLAlchemy)."""
    if rows:
        conn.execute(
            insert(contacts),
            [
                {"topics": [], "paused_until": None, "created_at": now, "updated_at": now, **row}
                for row in rows
            ],
        )


def update_contacts(conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Rewrite the imported columns of existing contacts (each row carries `id`), in one
    executemany keyed by id."""
    if not rows:
        return
    statement = (
        update(contacts)
        .where(contacts.c.id == bindparam("contact_id"))
        .values({name: bindparam(name) for name in (*IMPORTED_COLUMNS, "updated_at")})
    )
    conn.execute(
        statement,
        [
            {"contact_id": row["id"], "updated_at": now}
            | {name: row[name] for name in IMPORTED_COLUMNS}
            for row in rows
        ],
    )


def delete_contact(conn: Connection, contact_id: int) -> None:
    conn.execute(delete(contacts).where(contacts.c.id == contact_id))


def add_contact(conn: Connection, contact: Contact, now: datetime | None = None) -> int:
    """Insert one contact (its address already normalised) and return its id; for staff adding
    a single person and for tests. Imports use the set-based `insert_contacts`."""
    moment = now or utcnow()
    row = {
        "email": contact.email,
        "email_key": email_key(contact.email),
        "email_hash": email_hash(contact.email),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "tags": tags_to_column(contact.tags),
        "attributes": dict(contact.attributes),
        "consent_status": contact.consent_status,
        "consent_source": contact.consent_source,
        "consent_at": contact.consent_at,
        "consent_wording": contact.consent_wording,
        "topics": [],
        "paused_until": None,
        "created_at": moment,
        "updated_at": moment,
    }
    return conn.execute(insert(contacts).returning(contacts.c.id), row).scalar_one()
