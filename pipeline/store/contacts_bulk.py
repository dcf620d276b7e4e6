"""Set-based writes for bulk contact work (the CSV import, demo data): one SELECT, one INSERT
and one UPDATE per chunk of rows, and suppressions many at a time."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.store.row_batches import copy_rows, driver_time
from pipeline.store.tables import contacts, suppressions

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


_INSERTED_COLUMNS = ("email_key", "email_hash", *IMPORTED_COLUMNS)


def insert_contacts(conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Insert new contacts (each row: email_key, email_hash and the imported columns) at the
    driver level: one executemany on SQLite, COPY on PostgreSQL.

    Why not `conn.execute(insert(contacts), rows)`: SQLAlchemy's per-row bind processing (the
    UTC type, JSON, SQLite's date formatting) was three quarters of an import's CPU time. The
    values are converted here exactly as those types would store them, so reads are unchanged.
    """
    if not rows:
        return
    names = (*_INSERTED_COLUMNS, "topics", "paused_until", "created_at", "updated_at")
    stamp = driver_time(conn, now)
    values = [
        (
            row["email_key"],
            row["email_hash"],
            row["email"],
            row["first_name"],
            row["last_name"],
            row["tags"],
            json.dumps(row["attributes"]),
            row["consent_status"],
            row["consent_source"],
            driver_time(conn, row["consent_at"]),
            row["consent_wording"],
            "[]",
            None,
            stamp,
            stamp,
        )
        for row in rows
    ]
    copy_rows(conn, contacts.name, names, values)


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


def suppress_many(conn: Connection, entries: Sequence[tuple[str, str, str]], now: datetime) -> None:
    """Suppress many address hashes at once: (email_hash, reason, source) each; duplicates of
    existing suppressions are skipped. One executemany."""
    if not entries:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(suppressions).on_conflict_do_nothing(),
        [
            {"email_hash": hashed, "reason": reason, "source": source, "detail": None,
             "created_at": now}
            for hashed, reason, source in entries
        ],
    )  # fmt: skip
