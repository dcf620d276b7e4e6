"""Digests: each occurrence gathers exactly the articles that are new since the previous digest
went out; with none it is skipped and says so; a late one is recorded as missed."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.campaigns.actions import get_lifecycle
from pipeline.config import load_settings
from pipeline.models import Article
from pipeline.store import campaign_states as store
from pipeline.store.articles import upsert_article
from pipeline.worker.digests import (
    new_articles_for_digest,
    occurrence_slug,
    run_digest_occurrence,
)

LONDON = ZoneInfo("Europe/London")
FIRST = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 09:00 in London
WEEKLY = "0 9 * * mon"


@pytest.fixture
def settings(workspace_db):
    return load_settings(workspace_db)


def _article(slug: str, published: date) -> Article:
    return Article(
        slug=slug, title=slug.title(), summary="", published=published, tags=(),
        canonical_url=None, hero_image=None, blocks=(), ctas=(), word_count=100,
        content_hash=slug,
    )  # fmt: skip


def _publish(engine, *articles):
    with engine.begin() as conn:
        for article in articles:
            upsert_article(conn, article)


def _digest(engine, scheduled_for=FIRST):
    with engine.begin() as conn:
        return store.insert_campaign(
            conn, slug="weekly-digest", name="Weekly digest", origin="file",
            spec={"slug": "weekly-digest", "cron": WEEKLY, "digest_latest": 3},
            spec_hash="0" * 64, state="scheduled", now=FIRST - timedelta(days=7),
            scheduled_for=scheduled_for, approved_by="owner", approved_at=FIRST,
        )  # fmt: skip


def _picked(engine, campaign_id, occurrence, limit=3):
    with engine.connect() as conn:
        return [
            a.slug for a in new_articles_for_digest(conn, campaign_id, occurrence, LONDON, limit)
        ]


def _sent(engine, campaign_id, occurrence, slugs):
    with engine.begin() as conn:
        store.record_digest_run(
            conn, campaign_id=campaign_id, occurrence_at=occurrence, outcome="started",
            now=occurrence, articles=slugs,
        )  # fmt: skip


def test_each_digest_picks_exactly_the_articles_new_since_the_previous_one(engine):
    campaign_id = _digest(engine)
    _publish(
        engine,
        _article("oldest", date(2026, 11, 2)),
        _article("older", date(2026, 11, 10)),
        _article("recent", date(2026, 11, 18)),
        _article("newest", date(2026, 11, 20)),
    )
    # The first digest: the newest `digest_latest` articles.
    first = _picked(engine, campaign_id, FIRST)
    assert first == ["newest", "recent", "older"]
    _sent(engine, campaign_id, FIRST, first)
    # Published later the same day as the first digest, then during the week, and one dated
    # after the next occurrence (not yet due).
    _publish(
        engine,
        _article("same-day", date(2026, 11, 23)),
        _article("midweek", date(2026, 11, 26)),
        _article("future", date(2026, 12, 10)),
    )
    second_at = FIRST + timedelta(days=7)
    second = _picked(engine, campaign_id, second_at)
    assert second == ["midweek", "same-day"]
    _sent(engine, campaign_id, second_at, second)
    assert _picked(engine, campaign_id, second_at + timedelta(days=7)) == []


def test_an_occurrence_with_nothing_new_is_skipped_recorded_and_the_next_one_set(engine, settings):
    campaign_id = _digest(engine)
    _sent(engine, campaign_id, FIRST - timedelta(days=7), ["something"])
    parent = get_lifecycle(engine, "weekly-digest")
    report = run_digest_occurrence(engine, settings, parent, FIRST + timedelta(minutes=1))
    assert report.outcome == "skipped"
    assert "no new articles since the digest of 2026-11-16 09:00 Europe/London" in report.detail
    parent = get_lifecycle(engine, "weekly-digest")
    assert parent.state == "scheduled"
    assert parent.scheduled_for == FIRST + timedelta(days=7)
    assert "skipped" in parent.state_reason
    with engine.connect() as conn:
        runs = store.digest_runs_of(conn, campaign_id)
    assert [(run["occurrence_at"], run["outcome"]) for run in runs][-1] == (FIRST, "skipped")


def test_a_late_occurrence_is_missed_not_sent_and_only_one_actor_runs_it(engine, settings):
    campaign_id = _digest(engine)
    _publish(engine, _article("fresh", date(2026, 11, 20)))
    parent = get_lifecycle(engine, "weekly-digest")
    late = FIRST + timedelta(hours=2)
    assert run_digest_occurrence(engine, settings, parent, late).outcome == "missed"
    # A second trigger for the same occurrence finds it already claimed.
    assert run_digest_occurrence(engine, settings, parent, late).outcome == "not scheduled"
    with engine.connect() as conn:
        runs = store.digest_runs_of(conn, campaign_id)
    assert [run["outcome"] for run in runs] == ["missed"]
    assert runs[0]["articles"] == []
    assert get_lifecycle(engine, "weekly-digest").scheduled_for == FIRST + timedelta(days=7)
    # The article that was not sent is still new for the next digest.
    assert _picked(engine, campaign_id, FIRST + timedelta(days=7)) == ["fresh"]


def test_occurrence_slugs_carry_the_local_date_and_the_time_when_daily_is_not_enough():
    assert occurrence_slug("weekly-digest", FIRST, WEEKLY, LONDON) == "weekly-digest-2026-11-23"
    assert occurrence_slug("news", FIRST, "0 9,17 * * *", LONDON) == "news-2026-11-23-0900"
