"""Contacts and suppressions in the database: the named queries behind import, export, erase,
suppression and unsubscribe. `mailable_condition` and `segment_condition` (in
pipeline.store.segments, with the other audience clauses) are re-exported here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.errors import NotFoundError
from pipeline.identity import email_hash, email_key, is_email_hash, tags_from_column, tags_to_column
from pipeline.models import Contact
from pipeline.store.bookings import bookings_of, delete_bookings_of
from pipeline.store.row_batches import column_in
from pipeline.store.segments import mailable_condition, segment_condition
from pipeline.store.tables import (
    campaigns,
    consent_changes,
    contacts,
    events,
    sends,
    suppressions,
    variants,
)
from pipeline.store.types import utcnow

__all__ = [
    "add_contact",
    "contact_count",
    "contact_export",
    "contact_from_row",
    "erase_contact",
    "get_contact",
    "get_contact_by_id",
    "mailable_condition",
    "segment_condition",
    "suppress",
    "unsubscribe_contact",
    "why_not_mailable",
]

SUPPRESSION_REASONS = ("bounce", "complaint", "unsubscribe", "manual", "erased", "invalid")
_REASON_WORDS = {
    "bounce": "the address bounced",
    "complaint": "they reported an email as spam",
    "unsubscribe": "they unsubscribed",
    "manual": "staff suppressed the address",
    "erased": "their data was erased on request",
    "invalid": "the address is invalid",
}


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
    return _why_not_mailable(row, _suppressions_of(conn, row.email_hash), now)


def _suppressions_of(conn: Connection, hashed: str) -> Sequence[Row[Any]]:
    return conn.execute(
        select(suppressions)
        .where(suppressions.c.email_hash == hashed)
        .order_by(suppressions.c.created_at, suppressions.c.id)
    ).all()


def _why_not_mailable(row, suppression_rows, now: datetime) -> str | None:
    """`why_not_mailable` for a contact row and its address's suppressions, already read."""
    reasons = [
        f"suppressed: {_REASON_WORDS.get(suppression.reason, suppression.reason)} "
        f"({suppression.source}, {suppression.created_at:%Y-%m-%d})"
        for suppression in suppression_rows
    ]
    if row.consent_status == "unsubscribed":
        when = f", {row.consent_at:%Y-%m-%d}" if row.consent_at else ""
        reasons.append(f"consent withdrawn ({row.consent_source or 'unknown source'}{when})")
    elif row.consent_status != "subscribed":
        reasons.append("no marketing consent recorded")
    if row.paused_until is not None and row.paused_until > now:
        reasons.append(f"paused until {row.paused_until:%Y-%m-%d %H:%M} UTC")
    return "; ".join(reasons) or None


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


def _consent_of(conn: Connection, contact_id: int):
    """The contact's address hash and consent status; NotFoundError when there is no contact."""
    row = conn.execute(
        select(contacts.c.email_hash, contacts.c.consent_status).where(contacts.c.id == contact_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    return row


def _set_consent(
    conn: Connection,
    contact_id: int,
    status: str,
    source: str,
    wording: str | None,
    now: datetime,
) -> None:
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id)
        .values(
            consent_status=status,
            consent_source=source,
            consent_at=now,
            consent_wording=wording,
            updated_at=now,
        )
    )
    conn.execute(
        insert(consent_changes).values(
            contact_id=contact_id, status=status, source=source, wording=wording, created_at=now
        )
    )


def unsubscribe_contact(
    conn: Connection, contact_id: int, source: str, now: datetime, wording: str | None = None
) -> bool:
    """Withdraw the contact's consent and suppress their address, at once. True when they were
    not already unsubscribed. A later import cannot make them mailable again: an import never
    turns `unsubscribed` back into `subscribed`, and the suppression stays."""
    row = _consent_of(conn, contact_id)
    changed = row.consent_status != "unsubscribed"
    if changed:
        _set_consent(conn, contact_id, "unsubscribed", source, wording, now)
    suppress(conn, row.email_hash, "unsubscribe", source, now=now)
    return changed


def resubscribe_contact(
    conn: Connection, contact_id: int, source: str, wording: str, now: datetime
) -> bool:
    """Consent given again by a contact who had unsubscribed: `subscribed` from `source`, with
    the `wording` of how they asked, and the unsubscribe suppression of their address lifted.
    True when they were unsubscribed; anyone else is left as they are (consent never recorded
    is given by an import with its source, not here). Suppressions for any other reason, such
    as a bounce or a spam report, stay: the address still is not mailed while one holds."""
    row = _consent_of(conn, contact_id)
    if row.consent_status != "unsubscribed":
        return False
    _set_consent(conn, contact_id, "subscribed", source, wording, now)
    conn.execute(
        delete(suppressions).where(
            suppressions.c.email_hash == row.email_hash, suppressions.c.reason == "unsubscribe"
        )
    )
    return True


def address_suppressed(conn: Connection, hashed: str) -> bool:
    """Whether the address with this hash carries a suppression of any reason."""
    return bool(_suppressions_of(conn, hashed))


def suppressed_hashes(conn: Connection, hashes: Iterable[str], reason: str) -> set[str]:
    """Which of these address hashes carry a suppression of `reason`."""
    wanted = list(hashes)
    if not wanted:
        return set()
    return set(
        conn.execute(
            select(suppressions.c.email_hash).where(
                suppressions.c.reason == reason,
                column_in(conn, suppressions.c.email_hash, wanted),
            )
        ).scalars()
    )


# --- single contacts --------------------------------------------------------------------------


def contact_from_row(row) -> Contact:
    """A `Contact` from a row of `contacts` selected whole; shared with the contact search."""
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
    return contact_from_row(row)


def get_contact_by_id(conn: Connection, contact_id: int) -> Contact:
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    return contact_from_row(row)


def contact_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(contacts)).scalar_one()


def delete_contact(conn: Connection, contact_id: int) -> None:
    conn.execute(delete(contacts).where(contacts.c.id == contact_id))


def add_contact(conn: Connection, contact: Contact, now: datetime | None = None) -> int:
    """Insert one contact (its address already normalised) and return its id; for staff adding
    a single person and for tests. Imports use the set-based `insert_contacts`."""
    moment = now or utcnow()
    row: dict[str, Any] = {
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


# --- subject access and erasure ---------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def contact_export(conn: Connection, email: str, now: datetime) -> dict[str, Any]:
    """Everything held about the person with this address, as JSON-ready values: the contact,
    their consent, preferences, suppressions of their address, and the emails sent to them with
    what happened to each, and their bookings from the booking system's exports. NotFoundError
    when there is no contact and no suppression."""
    hashed = email_hash(email)
    row = conn.execute(select(contacts).where(contacts.c.email_key == email_key(email))).first()
    suppression_rows = _suppressions_of(conn, hashed)
    if row is None and not suppression_rows:
        raise NotFoundError(f"no contact with the address {email.strip()!r}")
    held_suppressions = [
        {"reason": s.reason, "source": s.source, "detail": s.detail, "at": _iso(s.created_at)}
        for s in suppression_rows
    ]
    if row is None:
        # Only the hash is held (for instance after erasure): say so, and that it blocks mail.
        return {
            "email": email.strip(),
            "email_hash": hashed,
            "held": "only a hash of the address, kept so that it is never mailed",
            "mailable": False,
            "why_not_mailable": "; ".join(
                f"suppressed: {_REASON_WORDS.get(s['reason'], s['reason'])}"
                for s in held_suppressions
            ),
            "suppressions": held_suppressions,
        }
    # The row and its suppressions are at hand: no second read of either.
    reason = _why_not_mailable(row, suppression_rows, now)
    document: dict[str, Any] = {
        "email": row.email,
        "email_hash": row.email_hash,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "tags": sorted(tags_from_column(row.tags)),
        "attributes": dict(row.attributes or {}),
        "consent": {
            "status": row.consent_status,
            "source": row.consent_source,
            "at": _iso(row.consent_at),
            "wording": row.consent_wording,
        },
        "preferences": {"topics": list(row.topics or []), "paused_until": _iso(row.paused_until)},
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "mailable": reason is None,
    }
    if reason is not None:
        document["why_not_mailable"] = reason
    document["suppressions"] = held_suppressions
    document["consent_history"] = consent_history(conn, row.id)
    document["sends"] = _sends_of(conn, row.id)
    document["bookings"] = bookings_of(conn, row.email_key)
    return document


def consent_history(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """Each change of the contact's consent after it was first recorded, oldest first."""
    rows = conn.execute(
        select(
            consent_changes.c.status,
            consent_changes.c.source,
            consent_changes.c.wording,
            consent_changes.c.created_at,
        )
        .where(consent_changes.c.contact_id == contact_id)
        .order_by(consent_changes.c.created_at, consent_changes.c.id)
    )
    return [
        {"status": r.status, "source": r.source, "wording": r.wording, "at": _iso(r.created_at)}
        for r in rows
    ]


def _sends_of(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """The emails sent to a contact, oldest first, each with its events; two queries."""
    send_rows = conn.execute(
        select(
            sends.c.id,
            campaigns.c.slug,
            variants.c.segment,
            sends.c.status,
            sends.c.queued_at,
            sends.c.sent_at,
            sends.c.reason,
        )
        .join(campaigns, campaigns.c.id == sends.c.campaign_id)
        .join(variants, variants.c.id == sends.c.variant_id)
        .where(sends.c.contact_id == contact_id)
        .order_by(sends.c.queued_at, sends.c.id)
    ).all()
    ids = [send.id for send in send_rows]
    happened: dict[int, list[dict[str, Any]]] = {send_id: [] for send_id in ids}
    if ids:
        for event in conn.execute(
            select(events.c.send_id, events.c.event, events.c.occurred_at, events.c.url)
            .where(events.c.send_id.in_(ids))
            .order_by(events.c.occurred_at, events.c.id)
        ):
            happened[event.send_id].append(
                {"event": event.event, "at": _iso(event.occurred_at), "url": event.url}
            )
    return [
        {
            "campaign": send.slug,
            "segment": send.segment,
            "status": send.status,
            "queued_at": _iso(send.queued_at),
            "sent_at": _iso(send.sent_at),
            "reason": send.reason,
            "events": happened[send.id],
        }
        for send in send_rows
    ]


def erase_contact(conn: Connection, email: str, source: str, now: datetime) -> bool:
    """Delete the person's contact record (their sends stay, detached, for the campaign's
    totals) and their bookings, and keep their address suppressed by hash, so that no later
    import or sign-up path makes them mailable again (nor imports their bookings). True when
    a contact was deleted; the suppression is made either way, so erasing someone not (yet)
    held still protects them."""
    key = email_key(email)
    row = conn.execute(select(contacts.c.id).where(contacts.c.email_key == key)).first()
    suppress(conn, email, "erased", source, now=now)
    delete_bookings_of(conn, key)
    if row is None:
        return False
    delete_contact(conn, row.id)
    return True
