"""Two pasted blog posts (tests/fixtures/posts, written for these tests) that carry the patterns
real posts do: back-references, "runs through the back of the thigh", "anyone recovering from
medical procedures", a reference with filler after it, no canonical_url, no title line. Run
through sync, plan and check as a new user would."""

from __future__ import annotations

import shutil

import pytest

from pipeline.campaigns import load_campaign_spec
from pipeline.campaigns.loading import load_plan
from pipeline.campaigns.review import plan_document, review_campaign
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.content.excerpt import opens_with_back_reference, sentence_keys
from pipeline.segments import load_segments
from pipeline.store import open_engine, upgrade
from tests.conftest import REPO

CAMPAIGN = """\
name: {slug}
article: {slug}
template: single
segments: all
send_at: "2026-12-20 09:30"
threshold: 0.2
"""


@pytest.fixture
def clinic(workspace):
    for post in (REPO / "tests" / "fixtures" / "posts").glob("*.txt"):
        shutil.copy(post, workspace / "content" / post.name)
        (workspace / "campaigns" / f"{post.stem}.yaml").write_text(
            CAMPAIGN.format(slug=post.stem), encoding="utf-8"
        )
    settings = load_settings(workspace)
    engine = open_engine(settings.database_url)
    upgrade(engine)
    sync_content(engine, settings)
    yield settings, engine
    engine.dispose()


def plan_of(settings, engine, slug):
    segments = load_segments(settings.workspace)
    spec = load_campaign_spec(settings.workspace, slug, settings.clinic.zone, segments)
    with engine.connect() as conn:
        return load_plan(conn, settings, spec, segments), segments


def test_each_segment_reads_its_own_email_and_every_excerpt_stands_alone(clinic):
    settings, engine = clinic
    for slug in ("glute-massage", "back-massage-benefits"):
        plan, segments = plan_of(settings, engine, slug)
        document = plan_document(plan)
        subjects = [variant["subject"] for variant in document["variants"]]
        intros = [variant["intro"] for variant in document["variants"]]
        assert len(set(subjects)) == len(subjects) >= 3
        assert len(set(intros)) == len(intros)
        for variant in plan.variants:
            assert all(not opens_with_back_reference(p) for p in variant.excerpt), variant
            seen: set[str] = set()
            for part in (variant.preheader, variant.intro, *variant.excerpt):
                assert not sentence_keys([part]) & seen, (variant.segment, part)
                seen |= sentence_keys([part])
            assert len(variant.subject) <= 60
        findings = review_campaign(settings, plan, segments).findings
        assert not [f for f in findings if f.level == "error" and f.check != "links"]
        assert not [f for f in findings if f.check == "tailoring"]


def test_the_back_massage_post_reaches_post_op_and_fits_desk_workers_before_athletes(clinic):
    settings, engine = clinic
    plan, _ = plan_of(settings, engine, "back-massage-benefits")
    scores = {variant.segment: variant.score for variant in plan.variants}
    assert "post_op" in scores
    assert scores["desk_workers"] > scores["athletes"]
    post_op = next(variant for variant in plan.variants if variant.segment == "post_op")
    assert "recovering from medical procedures" in " ".join(post_op.excerpt)


def test_check_asks_for_a_real_subject_and_names_the_guessed_address(clinic):
    settings, engine = clinic
    plan, segments = plan_of(settings, engine, "glute-massage")
    findings = review_campaign(settings, plan, segments).findings
    subject = [f for f in findings if f.check == "subject" and f.level == "warning"]
    assert {f.segment for f in subject} == {variant.segment for variant in plan.variants}
    assert all(
        "Glute massage" in f.message and "comes from the file name" in f.message for f in subject
    )
    guessed = [f for f in findings if "is guessed as" in f.message]
    assert guessed and "https://harbourside-clinic.example/articles/glute-massage" in (
        guessed[0].message
    )


def test_two_segments_made_to_read_the_same_are_reported(clinic):
    settings, engine = clinic
    path = settings.workspace / "campaigns" / "back-massage-benefits.yaml"
    same = (
        "    subject: A back massage for every kind of week, whatever it throws at you\n"
        "    intro: Hello.\n    preheader: {pre}\n"
        "    cta: Read it\n    excerpt: [1, 2]\n"
    )
    pre = "A short note from our therapists about backs, desks and sleep."
    path.write_text(
        path.read_text(encoding="utf-8")
        + "overrides:\n  athletes:\n"
        + same.format(pre=pre)
        + "  general:\n"
        + same.format(pre=pre),
        encoding="utf-8",
    )
    plan, segments = plan_of(settings, engine, "back-massage-benefits")
    tailoring = [
        f for f in review_campaign(settings, plan, segments).findings if f.check == "tailoring"
    ]
    assert len(tailoring) == 1
    assert "'athletes' and 'general' emails read the same" in tailoring[0].message
    long = [
        f
        for f in review_campaign(settings, plan, segments).findings
        if "phones show about 60" in f.message
    ]
    assert {f.segment for f in long} == {"athletes", "general"}
    assert all(f.level == "warning" for f in long)
