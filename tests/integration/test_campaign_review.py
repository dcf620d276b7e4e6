"""The review stage on loaded data alone: plan -> render -> check from articles, segments and
audience counts, with no database (the settings point at none), as the CLI, the web app and the
outbox's start all use it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.campaigns import load_campaign_spec, plan_campaign, with_audience
from pipeline.campaigns.review import review_campaign
from pipeline.config import Settings, load_settings
from pipeline.content import parse_path, workspace_links
from pipeline.segments import load_segments

SLUG = "full-treatment-for-back-pain"


@pytest.fixture
def settings(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # A database nobody creates: the review must never open it.
    missing = workspace / "no-such-folder" / "clinicmail.db"
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", f"sqlite:///{missing}")
    return load_settings(workspace)


def loaded(settings: Settings):
    spec = load_campaign_spec(settings.workspace, SLUG, settings.clinic.zone)
    links = workspace_links(settings)
    [article] = parse_path(settings.path("content", f"{spec.article}.md"), links)
    return spec, [article], load_segments(settings.workspace)


def test_a_campaign_is_planned_rendered_and_checked_without_a_database(settings: Settings):
    spec, articles, segments = loaded(settings)
    plan = plan_campaign(settings, spec, articles, segments)
    assert [v.segment for v in plan.variants] == ["desk_workers", "athletes", "general"]
    assert [v.audience for v in plan.variants] == [0, 0, 0]
    counted = with_audience(plan, {"athletes": 3, "desk_workers": 2, "general": 2})
    assert [v.audience for v in counted.variants] == [2, 3, 2]
    review = review_campaign(settings, counted, segments)
    assert list(review.rendered) == ["desk_workers", "athletes", "general"]
    assert all(settings.clinic.postal_address in r.html for r in review.rendered.values())
    assert review.errors == []
    assert not (settings.workspace / "no-such-folder").exists()


def test_one_variant_is_rendered_alone_and_not_checked(settings: Settings):
    spec, articles, segments = loaded(settings)
    plan = plan_campaign(settings, spec, articles, segments)
    review = review_campaign(settings, plan, segments, only="desk_workers")
    assert list(review.rendered) == ["desk_workers"]
    assert review.findings == ()
    assert review_campaign(settings, plan, segments, only="nobody").rendered == {}


def test_a_plan_without_articles_is_one_error_naming_why(settings: Settings):
    spec, _, segments = loaded(settings)
    plan = plan_campaign(settings, spec, [], segments, no_articles="no published article yet")
    review = review_campaign(settings, plan, segments)
    assert review.rendered == {}
    assert [(f.segment, f.level, f.check) for f in review.findings] == [("-", "error", "plan")]
    assert review.findings[0].message.startswith("no variant to send: no published article yet")


def test_a_check_error_in_a_variant_is_found(settings: Settings):
    spec, articles, segments = loaded(settings)
    plan = plan_campaign(settings, spec, articles, segments)
    long_subject = replace(plan.variants[0], subject="Back pain " * 20)
    plan = replace(plan, variants=(long_subject, *plan.variants[1:]))
    review = review_campaign(settings, plan, segments)
    assert [(f.segment, f.check) for f in review.errors] == [("desk_workers", "subject")]
