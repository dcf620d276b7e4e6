"""Topics a client chose on the preferences page decide which campaigns reach them: none chosen
means everything; otherwise only campaigns that fit one of the chosen segments. Plan counts and
the outbox share the clause, so both honour it (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.campaigns import assignment_segments, load_campaign_spec, load_plan
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.models import Contact
from pipeline.segments import load_segments
from pipeline.store import open_engine, utcnow
from pipeline.store.campaigns import variant_of_contact
from pipeline.store.contacts import add_contact
from pipeline.store.preferences import set_topics

# email -> (tags that place them in segments, topics chosen on the preferences page)
PEOPLE = {
    "everything@example.org": ({"athlete"}, []),
    "sport-fan@example.org": ({"athlete"}, ["athletes"]),
    "desk-but-sport@example.org": ({"desk"}, ["athletes"]),
    "desk-only@example.org": ({"athlete"}, ["desk_workers"]),
    "underscore-lookalike@example.org": ({"athlete"}, ["deskXworkers"]),
}


@pytest.fixture
def clinic(workspace_db: Path):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    ids = {}
    now = utcnow()
    with engine.begin() as conn:
        for email, (tags, topics) in PEOPLE.items():
            ids[email] = add_contact(
                conn, Contact(email, tags=frozenset(tags), consent_status="subscribed")
            )
            set_topics(conn, ids[email], topics, now)
    yield settings, engine, ids
    engine.dispose()


def _variants(settings, engine, ids, **spec_changes):
    spec = load_campaign_spec(
        settings.workspace, "full-treatment-for-back-pain", settings.clinic.zone
    )
    now = utcnow()
    segments = load_segments(settings.workspace)
    with engine.connect() as conn:
        plan = load_plan(conn, settings, replace(spec, **spec_changes), segments)
        ordered, general, excluded = assignment_segments(plan, segments)
        chosen = {
            email: variant_of_contact(conn, contact_id, ordered, general, now, now.date(), excluded)
            for email, contact_id in ids.items()
        }
    return plan, chosen


def test_a_campaign_reaches_those_who_chose_a_segment_it_fits(clinic):
    settings, engine, ids = clinic
    plan, chosen = _variants(settings, engine, ids)
    assert {v.segment for v in plan.variants} >= {"athletes", "desk_workers"}
    assert chosen["everything@example.org"] == "athletes"
    assert chosen["sport-fan@example.org"] == "athletes"
    # Chose sport, sits at a desk: the article fits sport, so they get their own best variant.
    assert chosen["desk-but-sport@example.org"] == "desk_workers"
    assert chosen["desk-only@example.org"] == "athletes"
    # A topic that only looks like a segment name under LIKE's wildcards matches nothing.
    assert chosen["underscore-lookalike@example.org"] is None
    audience = sum(v.audience for v in plan.variants)
    assert audience == sum(1 for variant in chosen.values() if variant is not None)


def test_a_campaign_that_fits_no_chosen_topic_leaves_the_client_out(clinic):
    settings, engine, ids = clinic
    # A threshold no segment reaches: only the general variant remains, which fits no topic.
    plan, chosen = _variants(settings, engine, ids, threshold=0.999)
    assert [v.segment for v in plan.variants] == ["general"]
    assert chosen["everything@example.org"] == "general"
    for email in PEOPLE:
        if email != "everything@example.org":
            assert chosen[email] is None, email
    assert plan.variants[0].audience == 1
