"""The event store: SendGrid events (and our own unsubscribes) stored once each, set-based per
batch, and what they change: send statuses, suppressions and the counters metrics read."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, case, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from pipeline.models import Event
from pipeline.store.bookings import make_demo_bookings
from pipeline.store.contacts import suppress, unsubscribe_contact
from pipeline.store.row_batches import insert_new_rows, select_where_in, update_where_in
from pipeline.store.tables import contacts, event_counts, events, send_engagements, sends
from pipeline.urls import same_address

# The metric (and engagement kind) each SendGrid event counts towards; open and click are
# handled apart (machine opens, booking clicks).
_KIND_OF_EVENT = {
    "processed": "processed",
    "delivered": "delivered",
    "bounce": "bounced",
    "dropped": "dropped",
    "spamreport": "complaints",
    "unsubscribe": "unsubscribes",
    "group_unsubscribe": "unsubscribes",
}

# Status a send moves to on an event, and the statuses it may move from. Rows still queued or
# being sent belong to the outbox; a bounce may follow a delivery, nothing else goes backwards.
_STATUS_MOVES = (
    ("delivered", "delivered", ("sent", "unknown")),
    ("dropped", "dropped", ("sent", "unknown")),
    ("bounce", "bounced", ("sent", "unknown", "delivered")),
)

# Which of those a send shows when several arrived: a bounce can follow a delivery.
_FINAL_EVENTS_FIRST = ("bounce", "dropped", "delivered")


def status_once_accepted(send_id: ColumnElement[int]) -> ColumnElement[str]:
    """The status a send takes when the outbox learns the provider accepted it: `sent`, or what
    its stored events already say. SendGrid can post `delivered` before its HTTP answer reaches
    the worker, and the webhook leaves rows the outbox still leases alone, so the outbox applies
    those events itself when it records the send."""
    status_of = {event_name: status for event_name, status, _ in _STATUS_MOVES}
    return case(
        *(
            (
                exists().where(events.c.send_id == send_id, events.c.event == event_name),
                status_of[event_name],
            )
            for event_name in _FINAL_EVENTS_FIRST
        ),
        else_="sent",
    )


# SendGrid's reasons for dropping a message that mean the address must not be mailed again.
_DROP_SUPPRESSIONS = {
    "bounced address": "bounce",
    "invalid": "invalid",
    "unsubscribed address": "unsubscribe",
    "spam reporting address": "complaint",
}

UNSUBSCRIBED_REASON = "unsubscribed"


@dataclass(frozen=True)
class IngestReport:
    received: int
    stored: int
    duplicates: int
    suppressed: int


@dataclass(frozen=True)
class _SendRef:
    campaign_id: int
    variant_id: int
    contact_id: int | None


def _insert(conn: Connection, table: Table):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def booking_click(url: str | None, booking_url: str) -> bool:
    """Whether a clicked `url` is the clinic's booking page (see pipeline.urls.normalise_url:
    the campaign's UTM parameters, escaping, host case, a trailing slash and a default port do
    not matter; any other query must match the booking URL's own)."""
    return same_address(url, booking_url)


def engagement_kinds(event: Event, booking_url: str) -> tuple[str, ...]:
    """The metric kinds an event counts towards (first per send only)."""
    if event.event == "open":
        return ("machine_opens",) if event.machine_open else ("opens",)
    if event.event == "click":
        return (
            ("clicks", "booking_clicks") if booking_click(event.url, booking_url) else ("clicks",)
        )
    kind = _KIND_OF_EVENT.get(event.event)
    return (kind,) if kind else ()


def _send_refs(conn: Connection, send_ids: Iterable[int]) -> dict[int, _SendRef]:
    ids = sorted(set(send_ids))
    rows = select_where_in(
        conn, sends, ("id", "campaign_id", "variant_id", "contact_id"), "id", ids
    )
    return {row[0]: _SendRef(row[1], row[2], row[3]) for row in rows}


def record_events(
    conn: Connection,
    batch: Sequence[Event],
    *,
    zone: ZoneInfo,
    booking_url: str,
    received_at: datetime,
    source: str = "sendgrid",
) -> IngestReport:
    """Store each event whose sg_event_id is new, and apply only those: SendGrid retries a batch
    for 24 hours, so a re-posted event must change nothing. Run inside one transaction."""
    unique: dict[str, Event] = {}
    for event in batch:
        unique.setdefault(event.sg_event_id, event)
    refs = _send_refs(conn, (e.send_id for e in unique.values() if e.send_id is not None))
    rows = []
    # In id order: two overlapping batches (a retry racing the original on PostgreSQL) then wait
    # for each other's rows in the same order instead of deadlocking.
    for event_id in sorted(unique):
        event = unique[event_id]
        ref = refs.get(event.send_id) if event.send_id is not None else None
        rows.append(
            {
                "sg_event_id": event.sg_event_id,
                # Events for sends we do not know (another app on the account, a deleted
                # campaign) are kept for the record but tied to nothing.
                "send_id": event.send_id if ref else None,
                "campaign_id": ref.campaign_id if ref else None,
                "variant_id": ref.variant_id if ref else None,
                "event": event.event[:30],
                "occurred_at": event.occurred_at,
                "url": event.url,
                "reason": event.reason,
                "machine_open": event.machine_open,
                "simulated": event.simulated,
                "received_at": received_at,
            }
        )
    if not rows:
        return IngestReport(len(batch), 0, len(batch), 0)
    stored_ids = {
        row[0] for row in insert_new_rows(conn, events, rows, ("sg_event_id",), ("sg_event_id",))
    }
    new_events = [unique[event_id] for event_id in unique if event_id in stored_ids]
    first_booking_clicks = _count_first_engagements(conn, new_events, refs, zone, booking_url)
    simulated_booking_clicks = [event for event in first_booking_clicks if event.simulated]
    if simulated_booking_clicks:
        make_demo_bookings(conn, simulated_booking_clicks, received_at)
    _move_send_statuses(conn, new_events, refs, received_at)
    suppressed = _apply_suppressions(conn, new_events, refs, received_at, source)
    return IngestReport(len(batch), len(new_events), len(batch) - len(new_events), suppressed)


def _count_first_engagements(
    conn: Connection,
    new_events: Sequence[Event],
    refs: dict[int, _SendRef],
    zone: ZoneInfo,
    booking_url: str,
) -> list[Event]:
    """Count each send's first engagement of each kind; returns the first booking clicks."""
    # The earliest event of each (send, kind) in this batch stands for it.
    firsts: dict[tuple[int, str], Event] = {}
    for event in sorted(new_events, key=lambda e: e.occurred_at):
        if event.send_id is None or event.send_id not in refs:
            continue
        for kind in engagement_kinds(event, booking_url):
            firsts.setdefault((event.send_id, kind), event)
    if not firsts:
        return []
    inserted = insert_new_rows(
        conn,
        send_engagements,
        [{"send_id": send_id, "kind": kind} for send_id, kind in sorted(firsts)],
        ("send_id", "kind"),
        ("send_id", "kind"),
    )
    counts: Counter[tuple[int, int, date, str, bool]] = Counter()
    days: dict[datetime, date] = {}
    for send_id, kind in inserted:
        event = firsts[(send_id, kind)]
        ref = refs[send_id]
        day = days.get(event.occurred_at)
        if day is None:
            day = days[event.occurred_at] = event.occurred_at.astimezone(zone).date()
        counts[(ref.campaign_id, ref.variant_id, day, kind, event.simulated)] += 1
    if not counts:
        return []
    upsert = _insert(conn, event_counts)
    upsert = upsert.on_conflict_do_update(
        index_elements=["campaign_id", "variant_id", "day", "kind", "simulated"],
        set_={"count": event_counts.c.count + upsert.excluded.count},
    )
    # Sorted keys: two concurrent batches take the counter rows' locks in the same order.
    conn.execute(
        upsert,
        [
            {
                "campaign_id": campaign_id,
                "variant_id": variant_id,
                "day": day,
                "kind": kind,
                "simulated": simulated,
                "count": count,
            }
            for (campaign_id, variant_id, day, kind, simulated), count in sorted(counts.items())
        ],
    )
    return [firsts[(send_id, kind)] for send_id, kind in inserted if kind == "booking_clicks"]


def _move_send_statuses(
    conn: Connection, new_events: Sequence[Event], refs: dict[int, _SendRef], now: datetime
) -> None:
    by_event: dict[str, set[int]] = defaultdict(set)
    for event in new_events:
        if event.send_id is not None and event.send_id in refs:
            by_event[event.event].add(event.send_id)
    for event_name, status, from_statuses in _STATUS_MOVES:
        ids = sorted(by_event.get(event_name, ()))
        if ids:
            update_where_in(
                conn,
                sends,
                {"status": status, "updated_at": now},
                "id",
                ids,
                only_if=("status", from_statuses),
            )


def _suppression_reason(event: Event) -> str | None:
    if event.event == "bounce":
        # "blocked" is the receiving server refusing this one message, not a bad address.
        return None if event.bounce_type == "blocked" else "bounce"
    if event.event == "dropped":
        return _DROP_SUPPRESSIONS.get((event.reason or "").strip().lower())
    if event.event == "spamreport":
        return "complaint"
    if event.event in ("unsubscribe", "group_unsubscribe"):
        return "unsubscribe"
    return None


def _apply_suppressions(
    conn: Connection,
    new_events: Sequence[Event],
    refs: dict[int, _SendRef],
    now: datetime,
    source: str,
) -> int:
    suppressed = 0
    for event in new_events:
        reason = _suppression_reason(event)
        if reason is None:
            continue
        ref = refs.get(event.send_id) if event.send_id is not None else None
        contact_id = ref.contact_id if ref else None
        address = event.email or _contact_email(conn, contact_id)
        if address is None:
            continue
        suppress(conn, address, reason, source, detail=event.reason)
        suppressed += 1
        if reason == "unsubscribe" and contact_id is not None:
            unsubscribe_contact(conn, contact_id, source, now)
            skip_queued_sends(conn, contact_id, now)
    return suppressed


def record_unsubscribe(
    conn: Connection,
    contact_id: int,
    send_id: int | None,
    *,
    source: str,
    now: datetime,
    zone: ZoneInfo,
) -> bool:
    """Unsubscribe a contact at once from a link, one-click POST or mailto: consent withdrawn,
    the address suppressed, queued sends skipped; True when they were not unsubscribed before.
    When the link came from a send of this contact, an `unsubscribe` event is recorded for it
    too, so the campaign's figures count it (once: its id is fixed per send)."""
    changed = unsubscribe_contact(conn, contact_id, source, now)
    skip_queued_sends(conn, contact_id, now)
    ref = _send_refs(conn, [send_id]).get(send_id) if send_id is not None else None
    if ref is not None and ref.contact_id == contact_id:
        own_event = Event(
            sg_event_id=f"clinicmail-unsubscribe-{send_id}",
            event="unsubscribe",
            occurred_at=now,
            send_id=send_id,
            reason=f"unsubscribed by {source}",
        )
        record_events(conn, [own_event], zone=zone, booking_url="", received_at=now, source=source)
    return changed


def _contact_email(conn: Connection, contact_id: int | None) -> str | None:
    if contact_id is None:
        return None
    return conn.execute(
        select(contacts.c.email).where(contacts.c.id == contact_id)
    ).scalar_one_or_none()


def skip_queued_sends(conn: Connection, contact_id: int, now: datetime) -> int:
    """Mark a contact's sends still waiting in the outbox as skipped (they unsubscribed): rows a
    worker has already claimed are left to its own mailability re-check."""
    return conn.execute(
        update(sends)
        .where(sends.c.contact_id == contact_id, sends.c.status == "queued")
        .values(status="skipped", reason=UNSUBSCRIBED_REASON, updated_at=now)
    ).rowcount
