"""Segment rules evaluated in SQL (every operator), and the one mailability test, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from pipeline.models import Condition, Contact, Rule, Segment
from pipeline.store.contacts import (
    add_contact,
    mailable_condition,
    segment_condition,
    suppress,
    unsubscribe_contact,
    why_not_mailable,
)
from pipeline.store.segments import months_before
from pipeline.store.tables import contacts

TODAY = date(2026, 3, 31)
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)

PEOPLE = {
    "runner@example.org": Contact(
        "runner@example.org", tags=frozenset({"runner", "trail-running"}),
        attributes={"sport": "Running", "activity_level": "High"}, consent_status="subscribed",
    ),
    "coder@example.org": Contact(
        "coder@example.org", attributes={"occupation": "Senior Software Developer"},
        consent_status="subscribed",
    ),
    "knee@example.org": Contact(
        "knee@example.org", tags=frozenset({"post-op"}),
        attributes={"surgery_date": "2025-10-31", "sport": ""}, consent_status="subscribed",
    ),
    "old-op@example.org": Contact(
        "old-op@example.org", attributes={"surgery_date": "2024-01-15"}, consent_status="none",
    ),
    "plain@example.org": Contact("plain@example.org", consent_status="subscribed"),
}  # fmt: skip


@pytest.fixture
def people(engine):
    with engine.begin() as conn:
        return {email: add_contact(conn, contact, NOW) for email, contact in PEOPLE.items()}


def _matching(engine, condition) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(contacts.c.email).where(condition)).scalars())


def _rule(*terms, mode="all") -> Segment:
    return Segment("test", "Test", "t0t0", False, 0, Rule(mode, tuple(terms)))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("tags", "equals", "runner"), {"runner@example.org"}),
        (Condition("tags", "equals", "Post Op"), {"knee@example.org"}),
        (Condition("tags", "in", ("cyclist", "post-op")), {"knee@example.org"}),
        (Condition("tags", "contains", "trail"), {"runner@example.org"}),
        (Condition("tags", "present", True), {"runner@example.org", "knee@example.org"}),
        (Condition("attributes.sport", "equals", "running"), {"runner@example.org"}),
        (Condition("attributes.activity_level", "in", ("high", "elite")), {"runner@example.org"}),
        (Condition("attributes.occupation", "contains", "developer"), {"coder@example.org"}),
        (
            Condition("attributes.occupation", "contains", ("nurse", "software")),
            {"coder@example.org"},
        ),
        (Condition("attributes.sport", "present", True), {"runner@example.org"}),
        (Condition("attributes.surgery_date", "within", ("months", 6)), {"knee@example.org"}),
        (Condition("attributes.surgery_date", "within", ("days", 151)), {"knee@example.org"}),
        (Condition("attributes.surgery_date", "within", ("days", 150)), set()),
        (
            Condition("attributes.surgery_date", "within", ("months", 36)),
            {"knee@example.org", "old-op@example.org"},
        ),
    ],
    ids=lambda value: getattr(value, "op", None) and f"{value.field}-{value.op}-{value.value}",
)
def test_each_operator(engine, people, condition, expected):
    assert _matching(engine, segment_condition(_rule(condition), TODAY)) == expected


def test_all_any_not_and_nesting(engine, people):
    runner = Condition("tags", "equals", "runner")
    surgery = Condition("attributes.surgery_date", "present", True)
    developer = Condition("attributes.occupation", "contains", "developer")
    assert _matching(engine, segment_condition(_rule(runner, surgery), TODAY)) == set()
    assert _matching(engine, segment_condition(_rule(runner, surgery, mode="any"), TODAY)) == {
        "runner@example.org", "knee@example.org", "old-op@example.org",
    }  # fmt: skip
    # "not" means none of its terms; a missing attribute counts as not matching, never NULL.
    assert _matching(engine, segment_condition(_rule(runner, surgery, mode="not"), TODAY)) == {
        "coder@example.org", "plain@example.org",
    }  # fmt: skip
    nested = _rule(Rule("any", (runner, developer)), Rule("not", (surgery,)))
    assert _matching(engine, segment_condition(nested, TODAY)) == {
        "runner@example.org", "coder@example.org",
    }  # fmt: skip


def test_general_is_everyone_in_no_other_segment(engine, people):
    athletes = _rule(Condition("attributes.sport", "present", True))
    desk = _rule(Condition("attributes.occupation", "present", True))
    general = Segment("general", "Everyone else", "g0g0", False, 0, None)
    assert _matching(engine, segment_condition(general, TODAY, [athletes, desk, general])) == {
        "knee@example.org", "old-op@example.org", "plain@example.org",
    }  # fmt: skip


def test_like_wildcards_in_values_are_literal(engine, people):
    assert (
        _matching(engine, segment_condition(_rule(Condition("tags", "contains", "%")), TODAY))
        == set()
    )
    assert (
        _matching(
            engine,
            segment_condition(_rule(Condition("attributes.occupation", "contains", "_")), TODAY),
        )
        == set()
    )


def test_months_before_clamps_to_the_end_of_the_month():
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


def test_mailable_needs_consent_no_suppression_and_no_pause(engine, people):
    with engine.begin() as conn:
        suppress(conn, "CODER@example.org ", "bounce", "sendgrid", "550 mailbox unavailable")
        conn.execute(
            contacts.update()
            .where(contacts.c.email == "plain@example.org")
            .values(paused_until=NOW + timedelta(days=30))
        )
    assert _matching(engine, mailable_condition(NOW)) == {"runner@example.org", "knee@example.org"}
    later = NOW + timedelta(days=31)
    assert "plain@example.org" in _matching(engine, mailable_condition(later))
    with engine.connect() as conn:
        assert why_not_mailable(conn, people["runner@example.org"], NOW) is None
        assert "bounced" in why_not_mailable(conn, people["coder@example.org"], NOW)
        assert "no marketing consent" in why_not_mailable(conn, people["old-op@example.org"], NOW)
        assert "paused until" in why_not_mailable(conn, people["plain@example.org"], NOW)


def test_why_not_mailable_agrees_with_mailable_condition(engine, people):
    with engine.begin() as conn:
        unsubscribe_contact(conn, people["knee@example.org"], "unsubscribe-link", NOW)
        suppress(conn, "runner@example.org", "complaint", "sendgrid")
    mailable = _matching(engine, mailable_condition(NOW))
    with engine.connect() as conn:
        for email, contact_id in people.items():
            assert (why_not_mailable(conn, contact_id, NOW) is None) == (email in mailable)


def test_unsubscribe_is_immediate_idempotent_and_suppresses(engine, people):
    knee = people["knee@example.org"]
    with engine.begin() as conn:
        assert unsubscribe_contact(conn, knee, "list-unsubscribe", NOW) is True
        assert unsubscribe_contact(conn, knee, "list-unsubscribe", NOW) is False
        reason = why_not_mailable(conn, knee, NOW)
    assert "unsubscribed" in reason and "consent withdrawn" in reason
    assert "knee@example.org" not in _matching(engine, mailable_condition(NOW))


def test_suppress_twice_is_harmless_and_takes_a_hash(engine, people):
    from pipeline.identity import email_hash

    with engine.begin() as conn:
        assert suppress(conn, "plain@example.org", "manual", "staff") is True
        assert suppress(conn, email_hash("Plain@Example.org"), "manual", "staff") is False
    assert "plain@example.org" not in _matching(engine, mailable_condition(NOW))


def test_segment_counts_agree_with_the_clauses_one_by_one(engine, people):
    from pipeline.store.segments import segment_counts

    with engine.begin() as conn:
        suppress(conn, "runner@example.org", "bounce", "sendgrid")
    job = Condition("attributes.occupation", "present", True)
    sport = Condition("attributes.sport", "present", True)
    surgery = Condition("attributes.surgery_date", "present", True)
    athletes = Segment("athletes", "A", "a1a1", False, 0, Rule("any", (sport, job)))
    post_op = Segment("post_op", "P", "p1p1", True, 0, Rule("any", (surgery, job)))
    general = Segment("general", "G", "g1g1", False, 0, None)
    segments = [athletes, post_op, general]
    with engine.connect() as conn:
        counts = segment_counts(conn, segments, TODAY, NOW)
    mailable = _matching(engine, mailable_condition(NOW))
    for segment in segments:
        members = _matching(engine, segment_condition(segment, TODAY, segments))
        assert counts[segment.name]["contacts"] == len(members)
        assert counts[segment.name]["mailable"] == len(members & mailable)
        for other in segments:
            if other is not segment:
                both = members & _matching(engine, segment_condition(other, TODAY, segments))
                assert counts[segment.name]["overlap"][other.name] == len(both & mailable)
    assert counts["athletes"]["overlap"]["post_op"] == 1  # the developer
    assert counts["general"]["contacts"] == 1  # plain
