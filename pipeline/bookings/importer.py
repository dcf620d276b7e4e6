"""Importing the booking system's appointments export: the contacts import's reading (encodings,
delimiters, heading synonyms, a mapping file) and row report, one transaction, idempotent by
the appointment's id or else by (email, start, service). Addresses that are no contact are
imported and counted, never made into contacts (a booking is no consent to marketing);
rows of an address erased at the person's request are refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from pipeline.bookings.columns import (
    KNOWN_HEADINGS,
    REQUIRED,
    parse_local_datetime,
    parse_money_cents,
    parse_status,
)
from pipeline.contacts.columns import ColumnMapping, ColumnPlan, plan_columns
from pipeline.contacts.csvfile import CsvRow, open_csv
from pipeline.contacts.importer import ImportReport, Rejection, import_in_one_transaction
from pipeline.contacts.normalise import InvalidValue, normalise_email
from pipeline.identity import email_hash, email_key
from pipeline.store import utcnow
from pipeline.store.bookings import (
    COMPARED_COLUMNS,
    AttributionKey,
    bookings_by_key,
    contact_ids_by_key,
    insert_bookings,
    refresh_derived,
    update_bookings,
)
from pipeline.store.contacts import suppressed_hashes

ERASED = "this person's data was erased on request; their bookings are not imported"


@dataclass
class BookingsReport(ImportReport):
    """The contacts import's report, plus the bookings of addresses that are no contact."""

    unknown_addresses: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "unknown_addresses": self.unknown_addresses}


def booking_key(appointment_id: str | None, email: str, starts_at: datetime, service: str) -> str:
    """What identifies an appointment across imports: its own id when the export has one."""
    if appointment_id:
        return f"id:{appointment_id}"
    return f"at:{email_key(email)}|{starts_at.isoformat()}|{service.strip().lower()}"


class BookingRowParser:
    def __init__(self, plan: ColumnPlan, mapping: ColumnMapping, zone: ZoneInfo) -> None:
        self.plan = plan
        self.day_first = mapping.day_first
        self.zone = zone

    def _cell(self, cells: list[str], target: str) -> str:
        for index in self.plan.indexes.get(target, ()):
            if index < len(cells) and cells[index].strip():
                return cells[index].strip()
        return ""

    def parse(self, row: CsvRow) -> dict[str, Any] | Rejection:
        cells = row.cells
        target = "email"
        try:
            email = normalise_email(self._cell(cells, "email"))
            target = "starts_at"
            starts_at = parse_local_datetime(
                self._cell(cells, "starts_at"), self.zone, day_first=self.day_first
            )
            target = "booked_at"
            booked_at = parse_local_datetime(
                self._cell(cells, "booked_at"), self.zone, day_first=self.day_first
            )
            if booked_at > starts_at:
                raise InvalidValue("booked after the appointment started")
            target = "status"
            status = parse_status(self._cell(cells, "status"))
            target = "value"
            value_cents = parse_money_cents(self._cell(cells, "value"))
        except InvalidValue as error:
            return Rejection(row.number, self.plan.headings.get(target, target), str(error))
        service = self._cell(cells, "service")
        appointment_id = self._cell(cells, "appointment_id")[:200] or None
        return {
            "row": row.number,
            "booking_key": booking_key(appointment_id, email, starts_at, service),
            "appointment_id": appointment_id,
            "email_key": email_key(email),
            "starts_at": starts_at,
            "booked_at": booked_at,
            "service": service,
            "value_cents": value_cents,
            "status": status,
        }


def import_bookings(
    engine: Engine,
    path: Path,
    *,
    zone: ZoneInfo,
    attribution: AttributionKey,
    mapping: ColumnMapping | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BookingsReport:
    """Import an appointments CSV (see the module docstring), then work out new clients and
    attribution in SQL, all in one transaction. Raises CsvError, with nothing written, for a
    file that cannot be read at all."""
    mapping = mapping or ColumnMapping()
    moment = now or utcnow()
    with open_csv(path) as csv_file:
        plan = plan_columns(
            csv_file.headings, mapping, str(path), known=KNOWN_HEADINGS, required=REQUIRED
        )
        parser = BookingRowParser(plan, mapping, zone)
        report = BookingsReport(ignored_columns=plan.ignored, dry_run=dry_run)
        import_in_one_transaction(
            engine,
            csv_file,
            report,
            lambda conn, chunk: _import_chunk(conn, chunk, parser, report, moment, attribution),
            progress=progress,
            before_commit=lambda conn: refresh_derived(conn, attribution),
        )
    return report


def _import_chunk(
    conn: Connection,
    chunk: list[CsvRow],
    parser: BookingRowParser,
    report: BookingsReport,
    now: datetime,
    attribution: AttributionKey,
) -> None:
    report.read += len(chunk)
    parsed = []
    for row in chunk:
        result = parser.parse(row)
        if isinstance(result, Rejection):
            report.rejected.append(result)
        else:
            parsed.append(result)
    hashes = {key: email_hash(key) for key in dict.fromkeys(r["email_key"] for r in parsed)}
    erased = suppressed_hashes(conn, hashes.values(), "erased")
    if erased:
        email_column = parser.plan.headings.get("email", "email")
        for booking in parsed:
            if hashes[booking["email_key"]] in erased:
                report.rejected.append(Rejection(booking["row"], email_column, ERASED))
        parsed = [booking for booking in parsed if hashes[booking["email_key"]] not in erased]
    stored = bookings_by_key(
        conn, list(dict.fromkeys(booking["booking_key"] for booking in parsed))
    )
    contact_ids = contact_ids_by_key(conn, list(dict.fromkeys(r["email_key"] for r in parsed)))
    # A later row of the same appointment in the file wins, as a later export would.
    states: dict[str, dict[str, Any]] = {}
    for booking in parsed:
        key = booking["booking_key"]
        before = states.get(key) or stored.get(key)
        after = {name: booking[name] for name in COMPARED_COLUMNS}
        if before is None:
            report.created += 1
        elif any(after[name] != before[name] for name in COMPARED_COLUMNS):
            report.updated += 1
        else:
            report.unchanged += 1
        if booking["email_key"] not in contact_ids:
            report.unknown_addresses += 1
        states[key] = {**(before or {}), **after}
    inserts, updates = [], []
    for key, state in states.items():
        values = {
            **{name: state[name] for name in COMPARED_COLUMNS},
            "contact_id": contact_ids.get(state["email_key"]),
            "imported_at": now,
        }
        if key not in stored:
            inserts.append({**values, "booking_key": key, "simulated": False})
        elif any(state[name] != stored[key][name] for name in COMPARED_COLUMNS):
            updates.append({**values, "id": stored[key]["id"]})
    # Changed bookings first, so the new ones' new-client flags see them as they now are.
    update_bookings(conn, updates)
    insert_bookings(conn, inserts, attribution)
