"""Loading articles into the database: every file in content/ (`sync_content`) or any files
and URLs (`import_sources`), each all-or-nothing in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

import pipeline.store.articles as article_store
from pipeline.config import Settings
from pipeline.errors import ContentError
from pipeline.models import Article

from .links import ClinicLinks
from .sources import (
    KINDS_BY_SUFFIX,
    is_regular_file_inside,
    known_article,
    parse_path,
    parse_source,
)

CONTENT_FOLDER = "content"


@dataclass(frozen=True)
class SyncReport:
    """Slugs by what the sync did to them."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def content_files(folder: Path) -> list[Path]:
    """The article files in `folder` and below, in name order; hidden files and files whose
    name starts with `_` (drafts, notes) are left out, and so is anything that is not a regular
    file inside the folder: a symbolic link could import /etc/passwd as an article."""
    if not folder.is_dir():
        return []
    root = folder.resolve()
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in KINDS_BY_SUFFIX
        and not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
        and is_regular_file_inside(path, root)
    )


def workspace_links(settings: Settings, engine: Engine | None = None) -> ClinicLinks:
    """The clinic's links, knowing every article in content/ (and in the database, when an
    engine is given) so that "my article on ..." references resolve."""
    links = _database_links(settings, engine)
    parsed = _parse_folder(settings, links, strict=False)
    return links.with_articles(
        known_article(article, links) for _, _, articles in parsed for article in articles
    )


def _database_links(settings: Settings, engine: Engine | None) -> ClinicLinks:
    links = ClinicLinks.from_settings(settings)
    if engine is None:
        return links
    with engine.connect() as connection:
        stored = article_store.list_articles(connection)
    return links.with_articles(known_article(article, links) for article in stored)


def _parse_folder(
    settings: Settings, links: ClinicLinks, strict: bool
) -> list[tuple[Path, str, list[Article]]]:
    """(file, its name in the workspace, its articles) for each article file in content/;
    files that fail are left out unless `strict`."""
    parsed = []
    folder = settings.path(CONTENT_FOLDER)
    for path in content_files(folder):
        name = path.relative_to(settings.workspace).as_posix()
        try:
            parsed.append((path, name, parse_path(path, links, name=name, inside=folder)))
        except ContentError:
            if strict:
                raise
    return parsed


def sync_content(engine: Engine, settings: Settings) -> SyncReport:
    """Every file in content/ parsed, then all stored in one transaction: a file that fails to
    parse stops the sync before anything is written."""
    links = _database_links(settings, engine)
    parsed = _parse_folder(settings, links, strict=True)
    # References can only be resolved once every article is known, so the files that make
    # one are read a second time; the rest are final after one reading.
    known = links.with_articles(
        known_article(article, links) for _, _, articles in parsed for article in articles
    )
    articles: list[Article] = []
    for path, name, first_reading in parsed:
        if any(_may_refer_to_an_article(article, links) for article in first_reading):
            articles += parse_path(path, known, name=name, inside=settings.path(CONTENT_FOLDER))
        else:
            articles += first_reading
    _refuse_duplicate_slugs(articles)
    return _store(engine, articles)


def _may_refer_to_an_article(article: Article, links: ClinicLinks) -> bool:
    return any(
        cta.kind == "article_ref" or (cta.kind != "booking" and cta.url.startswith(links.website))
        for cta in article.ctas
    )


def import_sources(engine: Engine, settings: Settings, sources: Sequence[str]) -> SyncReport:
    """Articles from files or URLs (feeds, pages, text, Markdown) stored in one transaction."""
    links = workspace_links(settings, engine)
    allow_private = settings.feeds.allow_private
    articles = [
        article
        for source in sources
        for article in parse_source(source, links, allow_private=allow_private)
    ]
    _refuse_duplicate_slugs(articles)
    return _store(engine, articles)


def _refuse_duplicate_slugs(articles: Sequence[Article]) -> None:
    seen: dict[str, Article] = {}
    for article in articles:
        earlier = seen.get(article.slug)
        if earlier is not None:
            raise ContentError(
                f"slug {article.slug!r} is also used by {earlier.source_path}: "
                "give one of them its own slug",
                path=article.source_path,
            )
        seen[article.slug] = article


def _store(engine: Engine, articles: Sequence[Article]) -> SyncReport:
    report = SyncReport()
    with engine.begin() as connection:
        for article in articles:
            outcome = article_store.upsert_article(connection, article)
            getattr(report, outcome).append(article.slug)
    return report
