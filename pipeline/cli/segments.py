"""Segment commands: audience sizes and overlaps per segment, and an article's relevance to each
segment (`content relevance`, added to the content group)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from pipeline.cli.base import AppContext, pass_app, print_json, print_table
from pipeline.content import ClinicLinks, content_files, parse_path
from pipeline.errors import InputError, NotFoundError
from pipeline.models import Article, Relevance, Segment
from pipeline.segments import score_article
from pipeline.store import utcnow
from pipeline.store.articles import get_article
from pipeline.store.segments import segment_counts


@click.group()
def segments() -> None:
    """Segments of the clinic's contacts, as campaigns/segments.yaml defines them.

    Example:

        clinicmail segments list
    """


@segments.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object keyed by segment.")
@pass_app
def list_command(app: AppContext, as_json: bool) -> None:
    """For each segment: its mailable contacts, all its contacts, and how many mailable
    contacts it shares with each other segment. `general` is everyone in no other segment.

    Example:

        clinicmail segments list --json
    """
    defined = app.settings.segments
    now = utcnow()
    today = datetime.now(app.settings.clinic.zone).date()
    with app.engine.connect() as conn:
        counts = segment_counts(conn, defined, today, now)
    if as_json:
        print_json({s.name: _segment_document(s, counts[s.name]) for s in defined})
        return
    names = [s.name for s in defined]
    print_table(
        ["segment", "code", "sensitive", "mailable", "contacts", *(f"∩ {n}" for n in names)],
        (
            [
                s.name,
                s.code,
                "yes" if s.sensitive else "",
                counts[s.name]["mailable"],
                counts[s.name]["contacts"],
                *("-" if other == s.name else counts[s.name]["overlap"][other] for other in names),
            ]
            for s in defined
        ),
    )


def _segment_document(segment: Segment, counts: dict) -> dict:
    return {
        "label": segment.label,
        "code": segment.code,
        "sensitive": segment.sensitive,
        "priority": segment.priority,
        "mailable": counts["mailable"],
        "contacts": counts["contacts"],
        "overlap": counts["overlap"],
    }


@click.command("relevance")
@click.argument("article")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object keyed by segment.")
@pass_app
def relevance(app: AppContext, article: str, as_json: bool) -> None:
    """How well ARTICLE (a slug, or the path of an article file) fits each segment: a score
    from 0 to 1, the topic phrases that matched with their counts, and the paragraphs that
    speak to the segment, best first (numbered from 0 in article order).

    Example:

        clinicmail content relevance glutes-and-sciatica --json
    """
    found = _find_article(app, article)
    results = score_article(found, app.settings.segments)
    if as_json:
        print_json({name: _relevance_document(r) for name, r in results.items()})
        return
    click.echo(f"{found.title} ({found.slug})")
    for name, result in sorted(results.items(), key=lambda item: -item[1].score):
        phrases = ", ".join(f"{phrase} ×{count}" for phrase, count in result.matches.items())
        paragraphs = ", ".join(str(index) for index in result.paragraphs[:5])
        click.echo(f"  {name:<14} {result.score:.2f}  {phrases or '-'}")
        if paragraphs:
            click.echo(f"  {'':<14}       paragraphs {paragraphs}")


def _relevance_document(result: Relevance) -> dict:
    return {
        "score": result.score,
        "matches": dict(result.matches),
        "paragraphs": list(result.paragraphs),
    }


def _find_article(app: AppContext, reference: str) -> Article:
    """An article by file path, else by slug: first in content/ (the source of truth), then
    among the articles stored in the database (imported ones)."""
    links = ClinicLinks.from_settings(app.settings)
    path = Path(reference)
    if path.is_file():
        parsed = parse_path(path, links)
        if len(parsed) != 1:
            raise InputError(
                f"it holds {len(parsed)} articles; give one article's slug instead",
                path=reference,
            )
        return parsed[0]
    for candidate in content_files(app.settings.path("content")):
        for parsed_article in parse_path(candidate, links):
            if parsed_article.slug == reference:
                return parsed_article
    try:
        with app.engine.connect() as conn:
            return get_article(conn, reference)
    except NotFoundError:
        raise NotFoundError(
            f"no article with the slug {reference!r} in content/ or the database, and no such "
            "file; see 'clinicmail content list'"
        ) from None


def register(group: click.Group) -> None:
    group.add_command(segments)
    group.commands["content"].add_command(relevance)
