"""Demo clients: reproducible, realistic shares per segment, consent and suppressions, on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from pipeline.demo import seed_demo_contacts
from pipeline.segments import load_segments
from pipeline.store.segments import segment_counts
from pipeline.store.tables import contacts, suppressions

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_seeded_clients_spread_over_the_segments(engine):
    report = seed_demo_contacts(engine, 2000, seed=3, now=NOW)
    assert report.created == 2000 and report.unsubscribed > 0 and report.bounced > 0
    assert 60 <= report.without_consent <= 140  # about 5%
    segments = load_segments(REPO)
    with engine.connect() as conn:
        counts = segment_counts(conn, segments, NOW.date(), NOW)
        bounced = conn.execute(
            select(func.count()).select_from(suppressions).where(suppressions.c.reason == "bounce")
        ).scalar_one()
    for name in ("athletes", "desk_workers", "post_op"):
        assert 400 <= counts[name]["contacts"] <= 600, (name, counts[name])  # about a quarter
        assert counts[name]["mailable"] < counts[name]["contacts"]
    assert counts["athletes"]["overlap"]["desk_workers"] > 0  # some in several
    assert counts["general"]["contacts"] > 500  # some in none
    assert bounced == report.bounced


def test_the_same_seed_gives_the_same_people_and_a_second_seeding_adds_new_ones(engine):
    seed_demo_contacts(engine, 50, seed=9, now=NOW)
    with engine.connect() as conn:
        first = conn.execute(select(contacts.c.email).order_by(contacts.c.id)).scalars().all()
    seed_demo_contacts(engine, 50, seed=9, now=NOW)
    with engine.connect() as conn:
        both = conn.execute(select(contacts.c.email).order_by(contacts.c.id)).scalars().all()
    assert len(both) == len(set(both)) == 100
    assert all(
        email.split("@")[1] in ("example.com", "example.org", "example.net") for email in both
    )
    assert both[:50] == first
    # The same draws, numbered on from the people already held.
    assert [e.split(".")[0] for e in both[50:]] == [e.split(".")[0] for e in first]


def test_if_empty_seeds_nothing_when_contacts_exist(engine):
    seed_demo_contacts(engine, 5, now=NOW)
    report = seed_demo_contacts(engine, 500, if_empty=True, now=NOW)
    assert report.skipped and report.existing == 5
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 5
