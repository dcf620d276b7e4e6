"""Articles into the database on SQLite and PostgreSQL: sync is idempotent, edits update, a bad
file writes nothing, imports never duplicate, and the store's queries read articles back."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from pipeline.config import load_settings
from pipeline.content import article_document, import_sources, parse_path, sync_content
from pipeline.content.links import ClinicLinks
from pipeline.errors import ContentError, NotFoundError
from pipeline.store.articles import (
    articles_published_since,
    get_article,
    list_articles,
    upsert_article,
)
from pipeline.store.tables import articles

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"
SAMPLE_SLUGS = {
    "desk-work-neck-shoulders-back",
    "first-appointment",
    "full-treatment-for-back-pain",
    "glutes-and-sciatica",
    "massage-after-surgery",
    "sports-massage-training-recovery",
}


def stored(engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(articles.c.slug, articles.c.content_hash, articles.c.updated_at)
        )
        return {row.slug: (row.content_hash, row.updated_at) for row in rows}


def test_sync_twice_adds_then_leaves_everything_unchanged(engine, workspace_db):
    settings = load_settings(workspace_db)
    first = sync_content(engine, settings)
    assert set(first.added) == SAMPLE_SLUGS
    assert first.updated == [] and first.unchanged == []
    before = stored(engine)
    second = sync_content(engine, settings)
    assert (second.added, second.updated) == ([], [])
    assert set(second.unchanged) == SAMPLE_SLUGS
    assert stored(engine) == before


def test_an_edited_file_is_updated_in_place(engine, workspace_db):
    settings = load_settings(workspace_db)
    sync_content(engine, settings)
    path = workspace_db / "content" / "massage-after-surgery.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Timing matters", "Timing really matters"),
        encoding="utf-8",
    )
    report = sync_content(engine, settings)
    assert report.updated == ["massage-after-surgery"]
    assert len(report.unchanged) == len(SAMPLE_SLUGS) - 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(articles)).scalar_one() == 6
        article = get_article(connection, "massage-after-surgery")
    assert any("Timing really matters" in block.text for block in article.blocks)


def test_a_bad_file_stops_the_sync_before_anything_is_written(engine, workspace_db):
    settings = load_settings(workspace_db)
    sync_content(engine, settings)
    before = stored(engine)
    good = workspace_db / "content" / "first-appointment.md"
    good.write_text(good.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    shutil.copy(FIXTURES / "bad" / "broken-front-matter.md", workspace_db / "content" / "z.md")
    with pytest.raises(ContentError, match=r"^content/z\.md:3: the front matter is not YAML"):
        sync_content(engine, settings)
    assert stored(engine) == before


def test_two_files_with_one_slug_are_refused(engine, workspace_db):
    settings = load_settings(workspace_db)
    (workspace_db / "content" / "glutes-and-sciatica.txt").write_text(
        "Glutes again\n\nA second article with the same file name.\n", encoding="utf-8"
    )
    with pytest.raises(ContentError, match="slug 'glutes-and-sciatica' is also used by"):
        sync_content(engine, settings)
    assert stored(engine) == {}


def test_drafts_and_hidden_files_are_skipped(engine, workspace_db):
    settings = load_settings(workspace_db)
    (workspace_db / "content" / "_draft.md").write_text("---\n: broken\n", encoding="utf-8")
    (workspace_db / "content" / ".notes.txt").write_text("", encoding="utf-8")
    assert set(sync_content(engine, settings).added) == SAMPLE_SLUGS


def test_stored_articles_read_back_exactly_as_parsed(engine, workspace_db):
    settings = load_settings(workspace_db)
    sync_content(engine, settings)
    links = ClinicLinks.from_settings(settings)
    [parsed] = parse_path(workspace_db / "content" / "desk-work-neck-shoulders-back.md", links)
    with engine.connect() as connection:
        article = get_article(connection, "desk-work-neck-shoulders-back")
        row = connection.execute(
            select(articles.c.document, articles.c.word_count, articles.c.warning_count).where(
                articles.c.slug == article.slug
            )
        ).one()
    assert row.document == article_document(article)
    assert article.source_path == "content/desk-work-neck-shoulders-back.md"
    assert article.hero_alt == parsed.hero_alt
    assert (row.word_count, row.warning_count) == (article.word_count, 0)
    assert [block.text for block in article.blocks] == [block.text for block in parsed.blocks]


def test_list_and_published_since_are_newest_first(engine, workspace_db):
    sync_content(engine, load_settings(workspace_db))
    with engine.begin() as connection:
        undated = replace(
            get_article(connection, "first-appointment"), slug="undated", published=None
        )
        assert upsert_article(connection, undated) == "added"
        listed = [article.slug for article in list_articles(connection)]
        recent = articles_published_since(connection, date(2026, 9, 1), limit=None)
        latest_two = articles_published_since(connection, None, limit=2)
    assert listed[0] == "first-appointment" and listed[-1] == "undated"
    assert [article.slug for article in recent] == [
        "first-appointment",
        "massage-after-surgery",
        "sports-massage-training-recovery",
    ]
    assert [article.slug for article in latest_two] == [
        "first-appointment",
        "massage-after-surgery",
    ]


def test_get_article_that_does_not_exist(engine):
    with engine.connect() as connection, pytest.raises(NotFoundError, match="no article with slug"):
        get_article(connection, "nothing")


def test_importing_the_same_files_twice_updates_instead_of_duplicating(engine, workspace_db):
    settings = load_settings(workspace_db)
    text = workspace_db / "pasted.txt"
    shutil.copy(FIXTURES / "text" / "question-title.txt", text)
    feed = str(FIXTURES / "feeds" / "clinic-news.atom")
    first = import_sources(engine, settings, [str(text), feed])
    assert first.added == ["pasted", "evening-appointments", "desk-stretches"]
    again = import_sources(engine, settings, [str(text), feed])
    assert again.unchanged == first.added
    text.write_text(text.read_text(encoding="utf-8") + "\nA new closing line.\n", encoding="utf-8")
    edited = import_sources(engine, settings, [str(text)])
    assert edited.updated == ["pasted"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(articles)).scalar_one() == 3


def test_imported_references_resolve_to_synced_articles(engine, workspace_db):
    settings = load_settings(workspace_db)
    sync_content(engine, settings)
    report = import_sources(engine, settings, [str(FIXTURES / "text" / "title-line.txt")])
    with engine.connect() as connection:
        article = get_article(connection, report.added[0])
    reference = next(cta for cta in article.ctas if cta.kind == "article_ref")
    assert reference.url == "https://harbourside-clinic.example/articles/glutes-and-sciatica"


def test_two_syncs_adding_one_slug_at_once_leave_one_row(engine, workspace_db):
    """The second insert waits for the first sync's transaction, finds the slug taken when that
    commits, and compares against the stored row instead of failing."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN IMMEDIATE, so the race cannot happen")
    [article] = parse_path(
        FIXTURES / "text" / "post-3.txt", ClinicLinks("https://a.example", "https://a.example/book")
    )
    outcomes: list[str] = []
    with engine.connect() as first:
        transaction = first.begin()
        assert upsert_article(first, article) == "added"
        second = threading.Thread(target=lambda: outcomes.append(_upsert_alone(engine, article)))
        second.start()
        _wait_until_a_session_waits_for_a_lock(engine, second)
        transaction.commit()
        second.join()
    assert outcomes == ["unchanged"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(articles)).scalar_one() == 1


def _upsert_alone(engine, article) -> str:
    with engine.begin() as connection:
        return upsert_article(connection, article)


def _wait_until_a_session_waits_for_a_lock(engine, thread: threading.Thread) -> None:
    """Polls from fresh transactions (statistics views are a snapshot within one); stops too
    if the thread ended without waiting, so that a failure shows instead of a hang."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while thread.is_alive():
        with engine.connect() as connection:
            if connection.execute(waiting).scalar_one():
                return
        time.sleep(0.02)
