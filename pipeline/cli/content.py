"""Article commands: parse a file, URL or feed; sync content/ into the database; import other
files and feeds; list what is stored."""

from __future__ import annotations

import click

from pipeline.cli.base import AppContext, pass_app, print_json, print_table
from pipeline.content import (
    SyncReport,
    article_document,
    import_sources,
    parse_source,
    sync_content,
    workspace_links,
)
from pipeline.models import Article
from pipeline.store.articles import list_articles


@click.group()
def content() -> None:
    """Articles: parse, sync content/ into the database, import, list.

    Example:

        clinicmail content sync
    """


@content.command("parse")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed article as JSON.")
@pass_app
def parse(app: AppContext, source: str, as_json: bool) -> None:
    """Parse SOURCE (a .md, .txt, .html or feed file, or an http(s) URL of a feed or page)
    and print the article, its calls to action and its warnings. Nothing is stored.

    With --json a file gives one JSON object; a feed gives a JSON list with one object per
    entry.

    Example:

        clinicmail content parse content/glutes-and-sciatica.md --json
    """
    articles = parse_source(
        source, workspace_links(app.settings), allow_private=app.settings.feeds.allow_private
    )
    if as_json:
        documents = [article_document(article) for article in articles]
        print_json(documents if _is_feed(articles) else documents[0])
        return
    for number, article in enumerate(articles):
        if number:
            click.echo()
        _print_article(article)


def _is_feed(articles: list[Article]) -> bool:
    return any(article.source_kind == "feed" for article in articles)


def _print_article(article: Article) -> None:
    published = article.published.isoformat() if article.published else "not dated"
    click.echo(f"{article.title}")
    click.echo(f"  slug: {article.slug}   published: {published}   words: {article.word_count}")
    if article.tags:
        click.echo(f"  tags: {', '.join(article.tags)}")
    if article.summary:
        click.echo(f"  summary: {article.summary}")
    kinds = ", ".join(
        f"{count} {kind}"
        for kind in ("heading", "paragraph", "list", "quote", "image")
        if (count := sum(block.type == kind for block in article.blocks))
    )
    click.echo(f"  blocks: {kinds}")
    for cta in article.ctas:
        click.echo(f"  {cta.kind}: {cta.text} -> {cta.url}")
    for warning in article.warnings:
        where = f"line {warning.line}: " if warning.line else ""
        click.echo(f"  warning: {where}{warning.message}")


@content.command("sync")
@pass_app
def sync(app: AppContext) -> None:
    """Load every article file in content/ into the database: new ones are added, edited ones
    updated, the rest left unchanged. A file that fails to parse stops the sync before
    anything is written.

    Example:

        clinicmail content sync
    """
    _print_report(sync_content(app.engine, app.settings))


@content.command("import")
@click.argument("sources", nargs=-1, required=True)
@pass_app
def import_command(app: AppContext, sources: tuple[str, ...]) -> None:
    """Import articles from files or URLs outside content/: Markdown, plain text, HTML pages
    and RSS/Atom feeds (one article per entry). All are stored in one transaction.

    Example:

        clinicmail content import https://example.org/blog/feed.xml old-post.txt
    """
    _print_report(import_sources(app.engine, app.settings, sources))


def _print_report(report: SyncReport) -> None:
    for slug in report.added:
        click.echo(f"added      {slug}")
    for slug in report.updated:
        click.echo(f"updated    {slug}")
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )


@content.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the articles as a JSON list.")
@pass_app
def list_command(app: AppContext, as_json: bool) -> None:
    """List the stored articles, newest first: title, words, warnings, published date, slug.

    Example:

        clinicmail content list
    """
    with app.engine.connect() as connection:
        articles = list_articles(connection)
    if as_json:
        print_json(
            [
                {
                    "slug": article.slug,
                    "title": article.title,
                    "published": article.published.isoformat() if article.published else None,
                    "word_count": article.word_count,
                    "warnings": len(article.warnings),
                    "tags": list(article.tags),
                    "source": article.source_path,
                }
                for article in articles
            ]
        )
        return
    if not articles:
        click.echo("no articles yet: add files to content/ and run 'clinicmail content sync'")
        return
    print_table(
        ("title", "words", "warnings", "published", "slug"),
        (
            (
                _shorten(article.title, 52),
                article.word_count,
                len(article.warnings),
                article.published.isoformat() if article.published else "-",
                article.slug,
            )
            for article in articles
        ),
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def register(group: click.Group) -> None:
    group.add_command(content)
