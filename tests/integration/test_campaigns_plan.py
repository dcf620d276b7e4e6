"""The plan on a real database (SQLite and PostgreSQL): every mailable contact counted once, in
the variant of the best-fitting segment it belongs to, or general; the same CASE answers for a
single contact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.campaigns import assignment_segments, load_campaign_spec, load_plan
from pipeline.checks import check_rendered
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.errors import SpecError
from pipeline.models import Contact
from pipeline.render.compile import render_variant
from pipeline.segments import load_segments
from pipeline.store import open_engine, utcnow
from pipeline.store.campaigns import variant_of_contact
from pipeline.store.contacts import add_contact

# Who is in which segment (by the sample segments.yaml's tag rules).
PEOPLE = {
    "athlete@example.org": {"athlete"},
    "desk@example.org": {"desk"},
    "both@example.org": {"athlete", "desk"},
    "postop-athlete@example.org": {"post-op", "athlete"},
    "postop-desk@example.org": {"post-op", "desk"},
    "postop@example.org": {"post-op"},
    "nobody@example.org": set(),
}


@pytest.fixture
def clinic(workspace_db: Path):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    ids = {}
    with engine.begin() as conn:
        for email, tags in PEOPLE.items():
            ids[email] = add_contact(
                conn,
                Contact(email, first_name="Sam", tags=frozenset(tags), consent_status="subscribed"),
            )
        add_contact(
            conn,
            Contact("left@example.org", tags=frozenset({"athlete"}), consent_status="unsubscribed"),
        )
    yield settings, engine, ids
    engine.dispose()


def plan_for(settings, engine, slug="full-treatment-for-back-pain", **changes):
    spec = load_campaign_spec(settings.workspace, slug, settings.clinic.zone)
    with engine.connect() as conn:
        segments = load_segments(settings.workspace)
        return load_plan(conn, settings, replace(spec, **changes), segments)


def assigned(settings, engine, plan, ids):
    segments = load_segments(settings.workspace)
    ordered, general, excluded = assignment_segments(plan, segments)
    now = utcnow()
    with engine.connect() as conn:
        return {
            email: variant_of_contact(conn, contact_id, ordered, general, now, now.date(), excluded)
            for email, contact_id in ids.items()
        }


def test_each_mailable_contact_counts_once_in_its_best_fitting_variant(clinic):
    settings, engine, ids = clinic
    plan = plan_for(settings, engine)
    # The leg article (sitting, back pain) fits desk workers best, then athletes (hamstrings,
    # runners); it does not fit post_op, whose clients fall to the next segment they are in,
    # or to general.
    assert [v.segment for v in plan.variants] == ["desk_workers", "athletes", "general"]
    assert [s.segment for s in plan.skipped] == ["post_op"]
    audience = {v.segment: v.audience for v in plan.variants}
    assert audience == {"athletes": 2, "desk_workers": 3, "general": 2}
    assert sum(audience.values()) == len(PEOPLE)
    assert assigned(settings, engine, plan, ids) == {
        "athlete@example.org": "athletes",
        "desk@example.org": "desk_workers",
        "both@example.org": "desk_workers",
        "postop-athlete@example.org": "athletes",
        "postop-desk@example.org": "desk_workers",
        "postop@example.org": "general",
        "nobody@example.org": "general",
    }


def test_a_sensitive_article_puts_post_op_clients_first(clinic):
    settings, engine, ids = clinic
    plan = plan_for(settings, engine, article="massage-after-surgery", overrides={})
    assert plan.variants[0].segment == "post_op"
    assert plan.variants[-1].segment == "general"
    post_op = plan.variants[0]
    assert "surgery" not in post_op.subject.lower()
    # Derived subjects and preheaders pass the guardrails: rendering and checking every
    # variant finds no error.
    segments = {segment.name: segment for segment in load_segments(settings.workspace)}
    for each in plan.variants:
        rendered = render_variant(settings, each, plan.articles, "single")
        errors = [
            f
            for f in check_rendered(settings, rendered, segments[each.segment])
            if f.level == "error"
        ]
        assert errors == [], errors
    choice = assigned(settings, engine, plan, ids)
    assert choice["postop-athlete@example.org"] == choice["postop-desk@example.org"] == "post_op"
    counts = {v.segment: v.audience for v in plan.variants}
    assert counts["post_op"] == 3
    assert sum(counts.values()) == len(PEOPLE)


def test_an_explicit_segment_list_leaves_out_the_other_segments_members(clinic):
    settings, engine, ids = clinic
    plan = plan_for(settings, engine, segments=("desk_workers", "general"), overrides={})
    assert {v.segment: v.audience for v in plan.variants} == {"desk_workers": 3, "general": 1}
    choice = assigned(settings, engine, plan, ids)
    assert choice["athlete@example.org"] is None
    assert choice["both@example.org"] == "desk_workers"
    assert choice["postop@example.org"] is None
    assert choice["nobody@example.org"] == "general"


def test_without_general_only_segment_members_are_counted(clinic):
    settings, engine, _ = clinic
    plan = plan_for(settings, engine, segments=("athletes",), overrides={})
    assert [(v.segment, v.audience) for v in plan.variants] == [("athletes", 3)]


def test_a_threshold_from_the_file_skips_segments_below_it(clinic):
    settings, engine, _ = clinic
    scores = {v.segment: v.score for v in plan_for(settings, engine).variants}
    between = (scores["desk_workers"] + scores["athletes"]) / 2
    plan = plan_for(settings, engine, threshold=between)
    assert [v.segment for v in plan.variants] == ["desk_workers", "general"]
    skipped = {s.segment: s.reason for s in plan.skipped}
    assert skipped["athletes"].startswith(
        f"relevance {scores['athletes']:.2f} is below the threshold {between:.2f}"
    )


def test_excerpts_are_the_segments_best_paragraphs_in_article_order(clinic):
    settings, engine, _ = clinic
    plan = plan_for(settings, engine)
    article = plan.articles[0]
    text = " ".join(article.paragraphs)
    for variant in plan.variants:
        # Whole sentences of the article (a paragraph may be joined to the one it leans on,
        # or start at its first self-contained sentence), in article order, within budget.
        positions = [text.index(paragraph) for paragraph in variant.excerpt]
        assert positions == sorted(positions) and positions
        assert sum(len(p.split()) for p in variant.excerpt) <= 120


def test_an_excerpt_override_picks_paragraphs_by_number(clinic):
    settings, engine, _ = clinic
    spec = load_campaign_spec(
        settings.workspace, "full-treatment-for-back-pain", settings.clinic.zone
    )
    override = replace(spec.overrides["athletes"], excerpt=(1, 3))
    plan = plan_for(settings, engine, overrides={**spec.overrides, "athletes": override})
    athletes = next(v for v in plan.variants if v.segment == "athletes")
    assert athletes.excerpt == (plan.articles[0].paragraphs[0], plan.articles[0].paragraphs[2])
    with pytest.raises(SpecError, match="paragraph 99 does not exist"):
        plan_for(settings, engine, overrides={"athletes": replace(override, excerpt=(99,))})


def test_the_digest_takes_the_latest_articles_most_relevant_first(clinic):
    settings, engine, _ = clinic
    plan = plan_for(settings, engine, slug="monthly-digest")
    assert 1 <= len(plan.articles) <= 4
    published = [a.published for a in plan.articles]
    assert published == sorted(published, reverse=True)
    for variant in plan.variants:
        assert sorted(variant.articles) == sorted(a.slug for a in plan.articles)
        assert len(variant.excerpt) == len(plan.articles)
    post_op = next(v for v in plan.variants if v.segment == "post_op")
    assert post_op.articles[0] == "massage-after-surgery"
    assert "surgery" not in post_op.subject.lower() and "surgery" not in post_op.preheader.lower()


def test_a_digest_of_one_new_article_shows_it_as_a_card(clinic):
    settings, engine, _ = clinic
    plan = plan_for(settings, engine, slug="monthly-digest", digest_latest=1)
    assert len(plan.articles) == 1
    for variant in plan.variants:
        assert variant.articles == (plan.articles[0].slug,)
        assert variant.excerpt == (plan.articles[0].summary,)
        assert render_variant(settings, variant, plan.articles, "digest").html.count("<h2") == 1


def test_a_missing_article_says_to_sync(clinic):
    settings, engine, _ = clinic
    with pytest.raises(SpecError, match="add it to content/ and sync the content") as refused:
        plan_for(settings, engine, article="not-written-yet")
    assert refused.value.for_command_line().endswith("; `clinicmail content sync`")


def test_a_digest_with_nothing_new_plans_no_variant_and_says_why(workspace_db):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    try:
        plan = plan_for(settings, engine, slug="monthly-digest")
    finally:
        engine.dispose()
    assert plan.variants == ()
    assert {s.reason for s in plan.skipped} == {"no published article yet"}
