"""Named queries over the `articles` table. The `document` column holds the parsed article as
`content parse --json` prints it, so reading an article never re-parses its file."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Literal

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.article_document import article_document, article_from_document
from pipeline.errors import NotFoundError
from pipeline.models import Article
from pipeline.store.tables import articles
from pipeline.store.types import utcnow

_ARTICLE_COLUMNS = (
    articles.c.document,
    articles.c.hero_alt,
    articles.c.source_path,
    articles.c.source_kind,
    articles.c.content_hash,
)


def _article(row: Row) -> Article:
    article = article_from_document(row.document)
    return replace(
        article,
        hero_alt=row.hero_alt,
        source_path=row.source_path,
        source_kind=row.source_kind,
        content_hash=row.content_hash,
    )


def get_article(conn: Connection, slug: str) -> Article:
    row = conn.execute(select(*_ARTICLE_COLUMNS).where(articles.c.slug == slug)).first()
    if row is None:
        raise NotFoundError(
            f"no article with slug {slug!r}",
            command_hint="'clinicmail content list' shows the ones there are",
        )
    return _article(row)


def list_articles(conn: Connection) -> list[Article]:
    """Newest first; undated articles after dated ones, by title."""
    query = select(*_ARTICLE_COLUMNS).order_by(
        articles.c.published.is_(None), articles.c.published.desc(), articles.c.title
    )
    return [_article(row) for row in conn.execute(query)]


def articles_published_since(
    conn: Connection, since: date | None, limit: int | None = None
) -> list[Article]:
    """Dated articles published on or after `since` (all dated ones when None), newest first:
    what a digest picks from. Undated articles are never "recent", so they are left out."""
    query = (
        select(*_ARTICLE_COLUMNS)
        .where(articles.c.published.is_not(None))
        .order_by(articles.c.published.desc(), articles.c.title)
    )
    if since is not None:
        query = query.where(articles.c.published >= since)
    if limit is not None:
        query = query.limit(limit)
    return [_article(row) for row in conn.execute(query)]


def upsert_article(conn: Connection, article: Article) -> Literal["added", "updated", "unchanged"]:
    """Insert the article, or update the one with its slug when its content hash (or the file
    it comes from) differs. The slug is the identity, so importing a file twice never
    duplicates it."""
    values = {
        "title": article.title,
        "summary": article.summary,
        "published": article.published,
        "tags": list(article.tags),
        "canonical_url": article.canonical_url,
        "hero_image": article.hero_image,
        "hero_alt": article.hero_alt,
        "source_path": article.source_path,
        "source_kind": article.source_kind,
        "content_hash": article.content_hash,
        "document": article_document(article),
        "word_count": article.word_count,
        "warning_count": len(article.warnings),
    }
    now = utcnow()
    existing = _current_version(conn, article.slug)
    if existing is None:
        try:
            # A savepoint, because on PostgreSQL another sync may add the same slug between
            # the look-up and the insert; its row is then compared and updated below.
            with conn.begin_nested():
                conn.execute(
                    insert(articles).values(
                        slug=article.slug, created_at=now, updated_at=now, **values
                    )
                )
            return "added"
        except IntegrityError:
            existing = _current_version(conn, article.slug)
            if existing is None:
                raise
    if (existing.content_hash, existing.source_path) == (
        article.content_hash,
        article.source_path,
    ):
        return "unchanged"
    conn.execute(
        update(articles).where(articles.c.id == existing.id).values(updated_at=now, **values)
    )
    return "updated"


def _current_version(conn: Connection, slug: str) -> Row | None:
    return conn.execute(
        select(articles.c.id, articles.c.content_hash, articles.c.source_path).where(
            articles.c.slug == slug
        )
    ).first()


def save_article_with_source(
    conn: Connection, article: Article, source_text: str
) -> Literal["added", "updated", "unchanged"]:
    """Store an article added or edited in the staff app, keeping the text it was parsed from
    in its document (`source_text`), so staff can edit that text again later."""
    outcome = upsert_article(conn, article)
    document = article_document(article) | {"source_text": source_text}
    conn.execute(update(articles).where(articles.c.slug == article.slug).values(document=document))
    return outcome


def article_source_text(conn: Connection, slug: str) -> str | None:
    """The text an article was added or last edited with in the staff app; None for articles
    from content/ files or imported by the command line."""
    document = conn.execute(select(articles.c.document).where(articles.c.slug == slug)).scalar()
    if document is None:
        raise NotFoundError(f"no article with slug {slug!r}")
    return document.get("source_text")


def article_slugs(conn: Connection) -> dict[str, str | None]:
    """Every stored article's slug and the file or address it came from."""
    return {
        slug: path for slug, path in conn.execute(select(articles.c.slug, articles.c.source_path))
    }
