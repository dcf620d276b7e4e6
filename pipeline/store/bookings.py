"""Bookings in the database: writes for the import (set-based per chunk), new-client flags and
attribution to campaign emails computed in SQL, and the per-campaign and per-segment sums the
owner's figures read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    case,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.models import BookingSums
from pipeline.store.row_batches import column_in, copy_rows, driver_time, select_where_in
from pipeline.store.tables import (
    TOUCH_EVENTS_POSTGRESQL,
    TOUCH_EVENTS_SQLITE,
    bookings,
    campaigns,
    contacts,
    sends,
    variants,
)
from pipeline.store.types import UtcDateTime

# The columns an import compares: a row whose values all match the stored ones is unchanged.
COMPARED_COLUMNS = (
    "appointment_id", "email_key", "starts_at", "booked_at", "service", "value_cents", "status",
)  # fmt: skip


@dataclass(frozen=True)
class AttributionKey:
    """Which model and window made a booking's attribution ("last_click:7")."""

    model: str
    window_days: int

    def __str__(self) -> str:
        return f"{self.model}:{self.window_days}"


def bookings_by_key(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    columns = [bookings.c.id, bookings.c.booking_key] + [bookings.c[n] for n in COMPARED_COLUMNS]
    rows = conn.execute(select(*columns).where(column_in(conn, bookings.c.booking_key, keys)))
    return {row.booking_key: dict(row._mapping) for row in rows}


def contact_ids_by_key(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = conn.execute(
        select(contacts.c.email_key, contacts.c.id).where(
            column_in(conn, contacts.c.email_key, keys)
        )
    )
    return {key: contact_id for key, contact_id in rows}


_INSERTED = (
    *COMPARED_COLUMNS, "booking_key", "contact_id", "simulated", "imported_at",
    "new_client", "attributed_send_id", "attributed_campaign_id", "attributed_variant_id",
    "attribution",
)  # fmt: skip

# The bookings of one chunk about to be inserted, for the lookups that credit them (a temporary
# table, so the lookups are the same set-based SQL on both databases).
_incoming = Table(
    "incoming_bookings",
    MetaData(),
    Column("row_index", Integer, nullable=False),
    Column("contact_id", Integer),
    Column("email_key", String(320), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("booked_at", UtcDateTime(), nullable=False),
    prefixes=["TEMPORARY"],
)


def _credits(
    conn: Connection, rows: Sequence[Mapping[str, Any]], key: AttributionKey
) -> list[tuple[int | None, int | None, int | None, bool]]:
    """For each row about to be inserted: the send, campaign and variant it is credited to
    under `key`, and whether it is a new client's as far as the bookings already stored say."""
    _incoming.create(conn, checkfirst=True)
    conn.execute(_incoming.delete())
    copy_rows(
        conn,
        _incoming.name,
        [column.name for column in _incoming.columns],
        [
            (index, row["contact_id"], row["email_key"], driver_time(conn, row["starts_at"]),
             driver_time(conn, row["booked_at"]))
            for index, row in enumerate(rows)
        ],
    )  # fmt: skip
    # Each row's credited send, then those sends' campaigns and variants by id: joining sends
    # in the same statement lets PostgreSQL plan a scan of every send for each chunk.
    found = conn.execute(
        text(
            f"SELECT row_index, ({_latest_send_sql(conn, key, 'incoming_bookings')}), "
            f"{_is_new_client_sql('incoming_bookings')} FROM incoming_bookings"
        ),
        {"days": key.window_days},
    ).all()
    credited = sorted({send_id for _, send_id, _ in found if send_id is not None})
    send_rows = select_where_in(conn, sends, ("id", "campaign_id", "variant_id"), "id", credited)
    campaign_and_variant = {
        send_id: (campaign, variant) for send_id, campaign, variant in send_rows
    }
    by_index = {}
    for index, send_id, is_new in found:
        campaign_id, variant_id = campaign_and_variant.get(send_id, (None, None))
        by_index[index] = (send_id, campaign_id, variant_id, bool(is_new))
    return [by_index[index] for index in range(len(rows))]


def insert_bookings(
    conn: Connection, rows: Sequence[Mapping[str, Any]], key: AttributionKey
) -> None:
    """New bookings, credited and flagged as they are written (updating rows just written
    would write each twice, with all its index entries): at the driver level as the contacts
    import writes contacts (COPY on PostgreSQL, one executemany on SQLite), since SQLAlchemy's
    per-row parameter processing cost more than the database's work.

    A booking is a new client's when no earlier kept or missed appointment of the address is
    stored or among `rows`; one of a later chunk that is earlier still is set right by
    refresh_derived at the end of the import."""
    if not rows:
        return
    earliest: dict[str, datetime] = {}
    for row in rows:
        if row["status"] != "cancelled":
            first = earliest.get(row["email_key"])
            earliest[row["email_key"]] = (
                row["starts_at"] if first is None else min(first, row["starts_at"])
            )
    values = []
    for row, (send_id, campaign_id, variant_id, no_earlier_stored) in zip(
        rows, _credits(conn, rows, key), strict=True
    ):
        first_in_rows = earliest.get(row["email_key"])
        new_client = no_earlier_stored and (
            first_in_rows is None or first_in_rows >= row["starts_at"]
        )
        values.append(
            (
                row["appointment_id"], row["email_key"], driver_time(conn, row["starts_at"]),
                driver_time(conn, row["booked_at"]), row["service"], row["value_cents"],
                row["status"], row["booking_key"], row["contact_id"], row["simulated"],
                driver_time(conn, row["imported_at"]), new_client, send_id, campaign_id,
                variant_id, str(key),
            )
        )  # fmt: skip
    copy_rows(conn, "bookings", _INSERTED, values)


def update_bookings(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Changed bookings by id; their attribution is cleared so refresh_derived redoes it."""
    if not rows:
        return
    statement = (
        update(bookings)
        .where(bookings.c.id == bindparam("b_id"))
        .values(
            {
                **{name: bindparam(f"b_{name}") for name in (*COMPARED_COLUMNS, "contact_id")},
                "attribution": None,
                "imported_at": bindparam("b_imported_at"),
            }
        )
    )
    conn.execute(statement, [{f"b_{name}": value for name, value in row.items()} for row in rows])


def _window_start(conn: Connection, outer: str) -> str:
    """SQL for the moment the attribution window opens before a booking of the `outer` table
    (:days before it). SQLite stores times as 'YYYY-MM-DD HH:MM:SS.ffffff' text, so the shifted
    time is written in the same shape for the comparison to hold."""
    if conn.dialect.name == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:%f', {outer}.booked_at, '-' || :days || ' days') || '000'"
    return f"{outer}.booked_at - make_interval(days => :days)"


def _latest_send_sql(conn: Connection, key: AttributionKey, outer: str) -> str:
    """SQL for the id of the send a booking of the `outer` table is credited to:
    the latest qualifying event of the client's campaign emails within the window. The client's
    sends come from uq_sends_contact_id_campaign_id, then each send's clicks or human opens
    from ix_events_touches alone (its condition repeated so the database uses it)."""
    touch = TOUCH_EVENTS_SQLITE if conn.dialect.name == "sqlite" else TOUCH_EVENTS_POSTGRESQL
    wanted = "'click'" if key.model == "last_click" else "'open'"
    return f"""
        SELECT sends.id FROM sends JOIN events ON events.send_id = sends.id
        WHERE sends.contact_id = {outer}.contact_id AND ({touch})
          AND events.event = {wanted}
          AND events.occurred_at <= {outer}.booked_at
          AND events.occurred_at > {_window_start(conn, outer)}
        ORDER BY events.occurred_at DESC, events.send_id DESC LIMIT 1
    """


def _is_new_client_sql(outer: str) -> str:
    """SQL for whether a booking of the `outer` table is a new client's: no stored earlier
    appointment of the same address that took place or was missed (a cancelled one never made
    them a client); ix_bookings_email_key_starts_at."""
    return f"""NOT EXISTS (
    SELECT 1 FROM bookings AS earlier
    WHERE earlier.email_key = {outer}.email_key AND earlier.starts_at < {outer}.starts_at
      AND earlier.status <> 'cancelled')"""


_IS_NEW_CLIENT = _is_new_client_sql("bookings")
_STALE = "(bookings.attribution IS NULL OR bookings.attribution <> :key)"


def refresh_new_clients(conn: Connection) -> None:
    """Mark each booking that is a new client's, writing only the rows whose flag changes."""
    conn.execute(
        text(f"UPDATE bookings SET new_client = {_IS_NEW_CLIENT} "
             f"WHERE new_client <> {_IS_NEW_CLIENT}")
    )  # fmt: skip


def refresh_derived(conn: Connection, key: AttributionKey) -> None:
    """Work out, set-based, what follows from the bookings held: which are a new client's, and
    which campaign email each is credited to under `key`. Only bookings whose attribution was
    made under another key (or cleared by a change) are credited again, so a repeat import of
    the same file costs nearly nothing; each of them is written once (every write of a row
    also rewrites its index entries, which is most of the cost)."""
    latest_send = _latest_send_sql(conn, key, "bookings")
    parameters = {"key": str(key), "days": key.window_days}
    # Bookings already credited under this key: only a new-client flag can change (an import
    # of earlier history makes a later booking a returning client's).
    conn.execute(
        text(
            f"UPDATE bookings SET new_client = {_IS_NEW_CLIENT} "
            f"WHERE NOT {_STALE} AND new_client <> {_IS_NEW_CLIENT}"
        ),
        parameters,
    )
    conn.execute(
        text(
            "UPDATE bookings SET (attributed_send_id, attributed_campaign_id, "
            "attributed_variant_id) = (SELECT credited.id, credited.campaign_id, "
            f"credited.variant_id FROM sends AS credited WHERE credited.id = ({latest_send})), "
            f"new_client = {_IS_NEW_CLIENT}, attribution = :key "
            f"WHERE {_STALE} AND bookings.contact_id IS NOT NULL"
        ),
        parameters,
    )
    # Bookings of addresses that are no contact: credited to nothing.
    conn.execute(
        text(
            f"UPDATE bookings SET new_client = {_IS_NEW_CLIENT}, attribution = :key WHERE {_STALE}"
        ),
        parameters,
    )


def attribution_is_stale(conn: Connection, key: AttributionKey) -> bool:
    """Whether some booking was credited under another model or window (or not yet)."""
    stale = select(bookings.c.id).where(
        bookings.c.attribution.is_(None) | (bookings.c.attribution != str(key))
    )
    return conn.execute(stale.limit(1)).first() is not None


def any_bookings(conn: Connection) -> bool:
    """Whether a bookings file was ever imported (or demo bookings made): without one, booking
    figures are unknown, not zero."""
    return conn.execute(select(bookings.c.id).limit(1)).first() is not None


def _sums_query(*group_by):
    booked = bookings.c.status == "booked"
    return select(
        *group_by,
        func.sum(case((booked, 1), else_=0)),
        func.sum(case((bookings.c.status == "cancelled", 1), else_=0)),
        func.sum(case((bookings.c.status == "no_show", 1), else_=0)),
        func.sum(case((booked & bookings.c.new_client, 1), else_=0)),
        func.sum(case((booked, bookings.c.value_cents), else_=0)),
        func.max(case((bookings.c.simulated, 1), else_=0)),
    ).group_by(*group_by)


def _sums(row: Sequence[Any]) -> BookingSums:
    kept, cancelled, no_shows, new_clients, revenue_cents = (int(value or 0) for value in row[:5])
    return BookingSums(
        kept, cancelled, no_shows, new_clients, revenue_cents, simulated=bool(row[5])
    )


def attributed_sums_by_variant(
    conn: Connection, campaign_ids: Sequence[int] | None = None
) -> dict[tuple[int, int], BookingSums]:
    """{(campaign id, variant id): sums} of attributed bookings (ix_bookings_attributed_...).
    Revenue counts kept appointments ("booked") only; cancelled and no-shows count apart."""
    query = _sums_query(bookings.c.attributed_campaign_id, bookings.c.attributed_variant_id).where(
        bookings.c.attributed_campaign_id.is_not(None)
    )
    if campaign_ids is not None:
        query = query.where(bookings.c.attributed_campaign_id.in_(list(campaign_ids)))
    return {(row[0], row[1]): _sums(row[2:]) for row in conn.execute(query)}


def attributed_sums_by_segment(
    conn: Connection, campaign_ids: Sequence[int]
) -> dict[tuple[str, str], BookingSums]:
    """{(segment name, code): sums} of bookings credited to these campaigns' emails."""
    if not campaign_ids:
        return {}
    query = (
        _sums_query(variants.c.segment, variants.c.segment_code)
        .select_from(bookings.join(variants, variants.c.id == bookings.c.attributed_variant_id))
        .where(bookings.c.attributed_campaign_id.in_(list(campaign_ids)))
    )
    return {(row[0], row[1]): _sums(row[2:]) for row in conn.execute(query)}


def attributed_bookings_between(
    conn: Connection, first: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """(booked at, count) of kept bookings credited to a campaign email and made in
    [first, end): a trend chart buckets them into the clinic's local days."""
    rows = conn.execute(
        select(bookings.c.booked_at, func.count())
        .where(
            bookings.c.attributed_campaign_id.is_not(None),
            bookings.c.status == "booked",
            bookings.c.booked_at >= first,
            bookings.c.booked_at < end,
        )
        .group_by(bookings.c.booked_at)
    )
    return [(booked_at, int(count)) for booked_at, count in rows]


def bookings_of(conn: Connection, key: str) -> list[dict[str, Any]]:
    """The bookings held for an address (its email key), latest appointment first, as
    JSON-ready values, each with the campaign it is credited to (its slug) if any."""
    rows = conn.execute(
        select(
            bookings.c.appointment_id, bookings.c.starts_at, bookings.c.booked_at,
            bookings.c.service, bookings.c.value_cents, bookings.c.status,
            bookings.c.new_client, bookings.c.simulated, campaigns.c.slug,
        )
        .outerjoin(campaigns, campaigns.c.id == bookings.c.attributed_campaign_id)
        .where(bookings.c.email_key == key)
        .order_by(bookings.c.starts_at.desc(), bookings.c.id.desc())
    )  # fmt: skip
    return [
        {
            "appointment_id": row.appointment_id,
            "starts_at": row.starts_at.isoformat(),
            "booked_at": row.booked_at.isoformat(),
            "service": row.service,
            "value": round(row.value_cents / 100, 2),
            "status": row.status,
            "new_client": row.new_client,
            "simulated": row.simulated,
            "credited_to": row.slug,
        }
        for row in rows
    ]


def delete_bookings_of(conn: Connection, key: str) -> int:
    """Delete the bookings held for an address (erasure at the person's request); how many."""
    return conn.execute(bookings.delete().where(bookings.c.email_key == key)).rowcount


def booking_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(bookings)).scalar_one())


# Demo mode: one booking clicker in DEMO_BOOKING_EVERY books, at the moment of the click (so
# the email credited here is the one last-click attribution would credit too).
DEMO_BOOKING_EVERY = 2
DEMO_SERVICES = (("Sports massage", 5500), ("Physiotherapy assessment", 6500))


def make_demo_bookings(conn: Connection, clicks: Sequence[Any], now: datetime) -> None:
    """Made-up bookings for some simulated booking clicks (the local server's demo mode),
    flagged simulated like the events, credited to the clicked email. Which clicks book
    depends on the send id, so the demo is the same every time."""
    chosen = [click for click in clicks if click.send_id % DEMO_BOOKING_EVERY == 0]
    if not chosen:
        return
    rows = conn.execute(
        select(sends.c.id, sends.c.contact_id, sends.c.campaign_id, sends.c.variant_id,
               contacts.c.email_key)
        .join(contacts, contacts.c.id == sends.c.contact_id)
        .where(sends.c.id.in_([click.send_id for click in chosen]))
    ).all()  # fmt: skip
    clicked_at = {click.send_id: click.occurred_at for click in chosen}
    new_rows = []
    for send_id, contact_id, campaign_id, variant_id, key in rows:
        service, value = DEMO_SERVICES[send_id % len(DEMO_SERVICES)]
        booked_at = clicked_at[send_id]
        new_rows.append(
            {
                "booking_key": f"demo:{send_id}",
                "appointment_id": None,
                "email_key": key,
                "contact_id": contact_id,
                "starts_at": booked_at + timedelta(days=3),
                "booked_at": booked_at,
                "service": service,
                "value_cents": value,
                "status": "booked",
                "new_client": False,
                "simulated": True,
                "attributed_send_id": send_id,
                "attributed_campaign_id": campaign_id,
                "attributed_variant_id": variant_id,
                "attribution": None,
                "imported_at": now,
            }
        )
    if new_rows:
        statement = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(bookings)
        conn.execute(statement.on_conflict_do_nothing(index_elements=["booking_key"]), new_rows)
        refresh_new_clients(conn)


def attributed_sums_booked_between(
    conn: Connection, first: datetime, end: datetime
) -> dict[tuple[int, int], BookingSums]:
    """{(campaign id, variant id): sums} of credited bookings made in [first, end)."""
    query = _sums_query(bookings.c.attributed_campaign_id, bookings.c.attributed_variant_id).where(
        bookings.c.attributed_campaign_id.is_not(None),
        bookings.c.booked_at >= first,
        bookings.c.booked_at < end,
    )
    return {(row[0], row[1]): _sums(row[2:]) for row in conn.execute(query)}
