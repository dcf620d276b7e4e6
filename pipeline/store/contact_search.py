"""Searching contacts for the staff contacts page: words of a query matched against address,
names and tags, a page at a time, and which segments each contact on a page falls in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select, true

from pipeline.models import Contact, Segment
from pipeline.store.contacts import contact_from_row
from pipeline.store.segments import like_escape, segment_condition
from pipeline.store.tables import contacts

__all__ = ["count_matching_contacts", "search_contacts", "segments_of_contacts"]


def _word_matches(word: str) -> ColumnElement[bool]:
    pattern = f"%{like_escape(word)}%"
    fields = [contacts.c.email, contacts.c.first_name, contacts.c.last_name]
    # Tags are stored as ",a,b,"; a word with a comma would match the separators themselves.
    if "," not in word:
        fields.append(contacts.c.tags)
    return or_(*(func.lower(field).like(pattern, escape="\\") for field in fields))


def _query_condition(query: str) -> ColumnElement[bool]:
    # Why this shape: every word must match some field (AND of ORs), so "maya jones" finds Maya
    # Jones and "jones runner" finds the Joneses tagged runner. lower(...) LIKE with an explicit
    # ESCAPE is the one case-insensitive substring test SQLite and PostgreSQL both run unchanged
    # (ILIKE is PostgreSQL only; SQLite's LIKE folds case by itself, PostgreSQL's does not). A
    # leading % means a scan of contacts, which a clinic's list (thousands of rows) makes cheap.
    # SQLite's lower() folds ASCII letters only, so an accented capital matches only as written.
    words = query.lower().split()
    if not words:
        return true()
    return and_(*(_word_matches(word) for word in words))


def search_contacts(
    conn: Connection, query: str, *, limit: int = 50, offset: int = 0
) -> list[Contact]:
    """Contacts matching every whitespace-separated word of `query` (case-insensitive, in the
    address, first or last name, or a tag), newest first; "" lists everyone."""
    rows = conn.execute(
        select(contacts)
        .where(_query_condition(query))
        .order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [contact_from_row(row) for row in rows]


def count_matching_contacts(conn: Connection, query: str) -> int:
    """How many contacts `search_contacts` would find over all pages."""
    return conn.execute(
        select(func.count()).select_from(contacts).where(_query_condition(query))
    ).scalar_one()


def segments_of_contacts(
    conn: Connection, contact_ids: Sequence[int], segments: Sequence[Segment], today: date
) -> dict[int, list[str]]:
    """The names of the segments each of these contacts is in (those without a rule, such as
    `general`, when in none of the others), in one query for a page of contacts."""
    if not contact_ids:
        return {}
    ruled = [segment for segment in segments if segment.rule is not None]
    unruled = [segment.name for segment in segments if segment.rule is None]
    flags = [case((segment_condition(segment, today), 1), else_=0) for segment in ruled]
    rows = conn.execute(select(contacts.c.id, *flags).where(contacts.c.id.in_(contact_ids)))
    found: dict[int, list[str]] = {}
    for contact_id, *membership in rows:
        names = [segment.name for segment, inside in zip(ruled, membership, strict=True) if inside]
        found[contact_id] = names or list(unruled)
    return found
