"""Importing a booking system's export of clients: rows parsed and validated one by one,
merged by address with the file's duplicates and the database (the newest non-empty value
wins, tags are united), written in chunks with set-based statements inside one transaction.

A bad row is rejected with its row number, column and reason and never stops the good ones; a
file that cannot be read at all changes nothing. A dry run does the same work and rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from pipeline.contacts.columns import ColumnMapping, ColumnPlan, is_date_attribute, plan_columns
from pipeline.contacts.csvfile import CsvRow, OpenCsv, open_csv
from pipeline.contacts.normalise import (
    InvalidValue,
    consent_answer,
    normalise_email,
    parse_date,
    parse_datetime,
    split_tags,
)
from pipeline.identity import email_hash, email_key, tags_from_column, tags_to_column
from pipeline.models import ConsentStatus
from pipeline.shortlist import shorten
from pipeline.store import utcnow
from pipeline.store.contacts import suppressed_hashes
from pipeline.store.contacts_bulk import (
    IMPORTED_COLUMNS,
    contacts_by_key,
    insert_contacts,
    update_contacts,
)

# Rows per chunk: one SELECT, one INSERT and one UPDATE each; small enough for SQLite's limit
# on bound parameters, large enough that round trips do not dominate.
CHUNK_ROWS = 2000
# A rejection quotes the value it refused: enough of it to find the cell, not all 64 KB.
MAX_REASON_CHARS = 200


@dataclass(frozen=True)
class Rejection:
    row: int
    column: str
    reason: str


@dataclass
class ImportReport:
    """Every row read is counted once: created, updated, unchanged or rejected."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [
                {"row": r.row, "column": r.column, "reason": r.reason} for r in self.rejected
            ],
            "ignored_columns": list(self.ignored_columns),
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class ParsedRow:
    """One valid row: the contact's values as the file gives them (None/empty: not given)."""

    row: int
    email: str
    first_name: str
    last_name: str
    tags: frozenset[str]
    attributes: dict[str, str]
    consent: ConsentStatus | None
    consent_at: datetime | None
    consent_wording: str | None


class RowParser:
    """Turns a CsvRow into a ParsedRow or a Rejection, following a file's ColumnPlan."""

    def __init__(self, plan: ColumnPlan, mapping: ColumnMapping) -> None:
        self.plan = plan
        self.day_first = mapping.day_first
        # (target, attribute name, is a date) worked out once per file, not once per row.
        self.attributes = [
            (target, target.removeprefix("attributes."), is_date_attribute(target[11:]))
            for target in plan.indexes
            if target.startswith("attributes.")
        ]

    def _cell(self, cells: list[str], target: str) -> str:
        for index in self.plan.indexes.get(target, ()):
            if index < len(cells):
                value = cells[index].strip()
                if value:
                    return value
        return ""

    def parse(self, row: CsvRow) -> ParsedRow | Rejection:
        cells = row.cells
        target = "email"
        try:
            email = normalise_email(self._cell(cells, "email"))
            first = self._cell(cells, "first_name")
            last = self._cell(cells, "last_name")
            full = self._cell(cells, "full_name")
            if full and not (first or last):
                first, _, last = full.rpartition(" ") if " " in full else (full, "", "")
            target = "tags"
            tags = split_tags(self._cell(cells, "tags"))
            attributes = {}
            for target, name, is_date in self.attributes:
                value = self._cell(cells, target)
                if value:
                    attributes[name] = (
                        parse_date(value, day_first=self.day_first).isoformat()
                        if is_date
                        else value
                    )
            target = "consent"
            consent = consent_answer(self._cell(cells, "consent"))
            target = "consent_date"
            consent_cell = self._cell(cells, "consent_date")
            consent_at = (
                parse_datetime(consent_cell, day_first=self.day_first) if consent_cell else None
            )
        except InvalidValue as error:
            reason = shorten(str(error), MAX_REASON_CHARS)
            return Rejection(row.number, self.plan.headings.get(target, target), reason)
        return ParsedRow(
            row=row.number,
            email=email,
            first_name=first,
            last_name=last,
            tags=tags,
            attributes=attributes,
            consent=consent,
            consent_at=consent_at,
            consent_wording=self._cell(cells, "consent_wording") or None,
        )


def merge(
    stored: dict[str, Any] | None, row: ParsedRow, source: str, now: datetime
) -> dict[str, Any]:
    """The contact's imported columns after this row: the row's non-empty values win (it is the
    newer), tags are united, attributes merged key by key, and the address keeps its first
    spelling. Consent follows the row, except that an import never turns `unsubscribed` back
    into `subscribed` (only the person can) and an empty or "none" answer never removes one."""
    before = stored or {
        "email": row.email,
        "first_name": "",
        "last_name": "",
        "tags": ",",
        "attributes": {},
        "consent_status": "none",
        "consent_source": None,
        "consent_at": None,
        "consent_wording": None,
    }
    after = {name: before[name] for name in IMPORTED_COLUMNS}
    # The address is the contact's identity: a later row that spells it in other capitals is
    # the same person and leaves the stored spelling as it is.
    after["email"] = before["email"]
    after["first_name"] = row.first_name or before["first_name"]
    after["last_name"] = row.last_name or before["last_name"]
    after["tags"] = tags_to_column(tags_from_column(before["tags"]) | row.tags)
    after["attributes"] = {**(before["attributes"] or {}), **row.attributes}
    status = before["consent_status"]
    wanted = row.consent
    if (
        wanted is not None
        and wanted != status
        and not (status == "unsubscribed" and wanted == "subscribed")
        and not (wanted == "none" and status != "none")
    ):
        after["consent_status"] = wanted
        after["consent_source"] = source
        after["consent_at"] = row.consent_at or now
        after["consent_wording"] = row.consent_wording if wanted == "subscribed" else None
    return after


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    mapping: ColumnMapping | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a contacts CSV (see the module docstring). `progress(bytes_read, total_bytes)` is
    called after each chunk. Raises CsvError, with nothing written, for a file that cannot be
    read at all."""
    mapping = mapping or ColumnMapping()
    moment = now or utcnow()
    source = f"import:{path.name}"[:200]
    with open_csv(path) as csv_file:
        plan = plan_columns(csv_file.headings, mapping, str(path))
        parser = RowParser(plan, mapping)
        consent_heading = plan.headings.get("consent")
        default_wording = f"'{consent_heading}' column of {path.name}" if consent_heading else None
        report = ImportReport(ignored_columns=plan.ignored, dry_run=dry_run)
        import_in_one_transaction(
            engine,
            csv_file,
            report,
            lambda conn, chunk: _import_chunk(
                conn, chunk, parser, report, source, default_wording, moment
            ),
            progress=progress,
        )
    return report


def import_in_one_transaction(
    engine: Engine,
    csv_file: OpenCsv,
    report: ImportReport,
    import_chunk: Callable[[Connection, list[CsvRow]], None],
    *,
    progress: Callable[[int, int], None] | None = None,
    before_commit: Callable[[Connection], None] | None = None,
) -> None:
    """The file's rows through `import_chunk`, CHUNK_ROWS at a time, in one transaction (with
    `before_commit` last): all or nothing, and nothing at all on a dry run (`report.dry_run`).
    The contacts and the bookings imports both go through here."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            for chunk in _chunks(csv_file.rows, CHUNK_ROWS):
                import_chunk(conn, chunk)
                if progress:
                    progress(csv_file.consumed(), csv_file.size)
            if before_commit:
                before_commit(conn)
        except BaseException:
            transaction.rollback()
            raise
        report.rejected.sort(key=lambda rejection: rejection.row)
        if report.dry_run:
            transaction.rollback()
        else:
            transaction.commit()


def _import_chunk(
    conn,
    chunk: list[CsvRow],
    parser: RowParser,
    report: ImportReport,
    source: str,
    default_wording: str | None,
    now: datetime,
) -> None:
    report.read += len(chunk)
    parsed: list[ParsedRow] = []
    for csv_row in chunk:
        result = parser.parse(csv_row)
        if isinstance(result, Rejection):
            report.rejected.append(result)
        else:
            parsed.append(result)
    keys = dict.fromkeys(email_key(row.email) for row in parsed)
    hashes = {key: email_hash(key) for key in keys}
    stored = contacts_by_key(conn, list(hashes))
    erased = suppressed_hashes(conn, hashes.values(), "erased")
    states: dict[str, dict[str, Any]] = {}
    email_column = parser.plan.headings["email"]
    for row in parsed:
        key = email_key(row.email)
        hashed = hashes[key]
        if hashed in erased:
            reason = "this person's data was erased on request; the address is not imported again"
            report.rejected.append(Rejection(row.row, email_column, reason))
            continue
        if row.consent == "subscribed" and not row.consent_wording and default_wording:
            row = replace(row, consent_wording=default_wording)
        before = states.get(key) or stored.get(key)
        after = merge(before, row, source, now)
        if before is None:
            report.created += 1
        elif any(after[name] != before[name] for name in IMPORTED_COLUMNS):
            report.updated += 1
        else:
            report.unchanged += 1
        states[key] = {**(before or {}), **after, "email_key": key, "email_hash": hashed}
    inserts, updates = [], []
    for key, state in states.items():
        if key in stored:
            if any(state[name] != stored[key][name] for name in IMPORTED_COLUMNS):
                updates.append(state)
        else:
            inserts.append(state)
    insert_contacts(conn, inserts, now)
    update_contacts(conn, updates, now)
