"""What a client's own links read and change: their contact row as a link sees it, their topic
choices and pause (the preference centre), and the send a view-online link shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from pipeline.store.tables import contacts, sends


@dataclass(frozen=True)
class LinkContact:
    id: int
    email: str
    email_hash: str
    first_name: str
    consent_status: str
    topics: tuple[str, ...]
    paused_until: datetime | None


@dataclass(frozen=True)
class SendRef:
    id: int
    contact_id: int | None
    variant_id: int


def link_contact(conn: Connection, contact_id: int) -> LinkContact | None:
    row = conn.execute(
        select(
            contacts.c.id,
            contacts.c.email,
            contacts.c.email_hash,
            contacts.c.first_name,
            contacts.c.consent_status,
            contacts.c.topics,
            contacts.c.paused_until,
        ).where(contacts.c.id == contact_id)
    ).one_or_none()
    if row is None:
        return None
    return LinkContact(
        id=row.id,
        email=row.email,
        email_hash=row.email_hash,
        first_name=row.first_name,
        consent_status=row.consent_status,
        topics=tuple(row.topics or ()),
        paused_until=row.paused_until,
    )


def set_topics(conn: Connection, contact_id: int, topics: list[str], now: datetime) -> None:
    """The segments (by name) a client wants news about; an empty list means all of them."""
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id)
        .values(topics=sorted(set(topics)), updated_at=now)
    )


def set_pause(conn: Connection, contact_id: int, until: datetime | None, now: datetime) -> None:
    """Pause marketing email to a contact until `until` (None: resume now)."""
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id)
        .values(paused_until=until, updated_at=now)
    )


def get_send(conn: Connection, send_id: int) -> SendRef | None:
    row = conn.execute(
        select(sends.c.id, sends.c.contact_id, sends.c.variant_id).where(sends.c.id == send_id)
    ).one_or_none()
    return None if row is None else SendRef(row.id, row.contact_id, row.variant_id)
