"""Searching contacts for the staff contacts page: words of a query matched against address,
names and tags, a page at a time, and which segments each contact on a page falls in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    false,
    func,
    not_,
    or_,
    select,
    true,
    update,
)

from pipeline.errors import InputError
from pipeline.identity import normalise_tag, tags_from_column
from pipeline.models import Contact, Segment
from pipeline.store.contacts import contact_from_row
from pipeline.store.segments import has_tag, like_escape, mailable_condition, segment_condition
from pipeline.store.tables import contacts

__all__ = [
    "ContactFilter",
    "add_tag",
    "count_filtered",
    "count_matching_contacts",
    "filter_condition",
    "filtered_contacts",
    "filtered_ids",
    "known_tags",
    "search_contacts",
    "segments_of_contacts",
]


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


# --- filters: segment, consent, mailable and tag, combined with the search words -------------


@dataclass(frozen=True)
class ContactFilter:
    """What the contacts page narrows the list to; empty fields do not narrow it."""

    query: str = ""
    segment: str = ""
    consent: str = ""
    mailable: str = ""  # "yes", "no" or "" (either)
    tag: str = ""

    @property
    def narrows(self) -> bool:
        return any((self.query, self.segment, self.consent, self.mailable, self.tag))

    def as_query(self) -> dict[str, str]:
        """The filter as URL parameters (only the fields that are set)."""
        fields = {
            "q": self.query,
            "segment": self.segment,
            "consent": self.consent,
            "mailable": self.mailable,
            "tag": self.tag,
        }
        return {name: value for name, value in fields.items() if value}


def filter_condition(
    contact_filter: ContactFilter, segments: Sequence[Segment], today: date, now: datetime
) -> ColumnElement[bool]:
    """Every part of the filter at once (AND); an unknown segment matches no one."""
    terms = [_query_condition(contact_filter.query)]
    if contact_filter.segment:
        chosen = [s for s in segments if s.name == contact_filter.segment]
        terms.append(segment_condition(chosen[0], today, segments) if chosen else false())
    if contact_filter.consent:
        terms.append(contacts.c.consent_status == contact_filter.consent)
    if contact_filter.mailable == "yes":
        terms.append(mailable_condition(now))
    elif contact_filter.mailable == "no":
        terms.append(not_(mailable_condition(now)))
    if contact_filter.tag:
        terms.append(has_tag(contact_filter.tag))
    return and_(*terms)


def filtered_contacts(
    conn: Connection, condition: ColumnElement[bool], *, limit: int, offset: int = 0
) -> list[Contact]:
    """A page of the contacts `condition` (from `filter_condition`) keeps, newest first."""
    rows = conn.execute(
        select(contacts)
        .where(condition)
        .order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [contact_from_row(row) for row in rows]


def count_filtered(conn: Connection, condition: ColumnElement[bool]) -> int:
    return conn.execute(select(func.count()).select_from(contacts).where(condition)).scalar_one()


def filtered_ids(conn: Connection, condition: ColumnElement[bool]) -> list[int]:
    """Every contact `condition` keeps: what a bulk action works on."""
    return list(conn.execute(select(contacts.c.id).where(condition)).scalars())


def known_tags(conn: Connection) -> list[str]:
    """Every tag some contact carries, sorted (the tag filter's choices). Few distinct tag sets
    exist even among many contacts, so DISTINCT keeps this small."""
    stored = conn.execute(select(contacts.c.tags).distinct()).scalars()
    return sorted({tag for tags in stored for tag in tags_from_column(tags)})


def add_tag(conn: Connection, contact_ids: Sequence[int], tag: str, now: datetime) -> int:
    """Tag these contacts with `tag` (normalised as imports do); how many did not have it."""
    normalised = normalise_tag(tag)
    if not normalised or "," in normalised:
        raise InputError(f"{tag!r} is not a tag: use words without commas, like post-op")
    changed = 0
    # Chunks keep each statement's parameter list well inside SQLite's limit.
    for start in range(0, len(contact_ids), 500):
        chunk = list(contact_ids[start : start + 500])
        result = conn.execute(
            update(contacts)
            .where(contacts.c.id.in_(chunk), not_(has_tag(normalised)))
            .values(tags=contacts.c.tags + f"{normalised},", updated_at=now)
        )
        changed += result.rowcount
    return changed
