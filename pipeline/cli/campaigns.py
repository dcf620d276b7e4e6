"""The `campaign` group: plan, render and check a campaign before it is sent. Other areas add
their subcommands (send, status, approve, schedule, ...) to this same group."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import click

from pipeline.campaigns.loading import plan_by_slug
from pipeline.campaigns.previews import write_previews
from pipeline.campaigns.review import plan_document, review_campaign
from pipeline.cli.base import AppContext, pass_app, print_json, print_table
from pipeline.models import Plan


@click.group()
def campaign() -> None:
    """Campaigns: plan, render and check one before it is sent.

    Example:

        clinicmail campaign plan full-treatment-for-back-pain
    """


@campaign.command("plan")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON object.")
@pass_app
def plan(app: AppContext, slug: str, as_json: bool) -> None:
    """Show what campaign SLUG would send: for each segment it targets, the mailable audience,
    the relevance score and matched phrases, the excerpt, subject and preheader; and the
    segments skipped because the article does not fit them.

    Each mailable contact is counted once, in the variant of the best-fitting segment it
    belongs to (or `general`), exactly as the outbox will assign it.

    Example:

        clinicmail campaign plan full-treatment-for-back-pain --json
    """
    segments = app.settings.segments
    with app.engine.connect() as conn:
        result = plan_by_slug(conn, app.settings, slug, segments)
    if as_json:
        print_json(plan_document(result))
        return
    _print_plan(result)


def _print_plan(result: Plan) -> None:
    spec = result.campaign
    articles = ", ".join(article.slug for article in result.articles) or "none"
    click.echo(f"{spec.slug}: {spec.name} (template {spec.template}; articles: {articles})")
    click.echo(f"relevance threshold {result.threshold:.2f}; variants in assignment order:")
    click.echo()
    print_table(
        ("segment", "audience", "score", "subject"),
        (
            (variant.segment, variant.audience, f"{variant.score:.2f}", variant.subject)
            for variant in result.variants
        ),
    )
    for variant in result.variants:
        click.echo()
        click.echo(f"[{variant.segment}]")
        matched = ", ".join(f"{phrase} ×{count}" for phrase, count in variant.matches.items())
        click.echo(f"  matches:   {matched or 'none'}")
        click.echo(f"  preheader: {variant.preheader}")
        for paragraph in variant.excerpt:
            click.echo(textwrap.shorten(paragraph, 96, placeholder=" …").join(("  > ", "")))
    if result.skipped:
        click.echo()
        click.echo("skipped:")
        for skipped in result.skipped:
            click.echo(f"  {skipped.segment}: {skipped.reason}")


@campaign.command("render")
@click.argument("slug")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write <segment>.html, .txt and .eml into (created when missing).",
)
@click.option("--segment", help="Only this segment's variant.")
@click.option(
    "--contact",
    metavar="EMAIL",
    help="Fill the tokens for this contact (default: a sample recipient) and say which "
    "variant they would get.",
)
@pass_app
def render(app: AppContext, slug: str, out: Path, segment: str | None, contact: str | None) -> None:
    """Render campaign SLUG's variants into --out: `<segment>.html`, `<segment>.txt` and
    `<segment>.eml` (a complete message as it would be sent) for each.

    Example:

        clinicmail campaign render full-treatment-for-back-pain --out var/preview
    """
    segments = app.settings.segments
    with app.engine.connect() as conn:
        result = plan_by_slug(conn, app.settings, slug, segments)
        files, note = write_previews(
            conn, app.settings, result, segments, out, segment=segment, contact=contact
        )
    for preview in files:
        click.echo(f"{preview.segment}: " + ", ".join(str(path) for path in preview.paths))
    if note:
        click.echo(note)


@campaign.command("check")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@pass_app
def check(app: AppContext, slug: str, as_json: bool) -> None:
    """Check every variant of campaign SLUG: HTML size, links, alt text, leftover tokens,
    subject and preheader, the postal address and unsubscribe link, and the health-data
    guardrails. Exits with 1 when any error is found (errors block sending; warnings do not).

    Example:

        clinicmail campaign check full-treatment-for-back-pain --json
    """
    segments = app.settings.segments
    with app.engine.connect() as conn:
        result = plan_by_slug(conn, app.settings, slug, segments)
    findings = review_campaign(app.settings, result, segments).findings
    errors = sum(1 for finding in findings if finding.level == "error")
    if as_json:
        print_json(
            [
                {
                    "segment": finding.segment,
                    "level": finding.level,
                    "check": finding.check,
                    "message": finding.message,
                }
                for finding in findings
            ]
        )
    else:
        if findings:
            print_table(
                ("segment", "level", "check", "message"),
                ((f.segment, f.level, f.check, f.message) for f in findings),
            )
        variants = len(result.variants)
        click.echo(
            f"{variants} variant{'s' if variants != 1 else ''} checked: {errors} error"
            f"{'s' if errors != 1 else ''}, {len(findings) - errors} warning"
            f"{'s' if len(findings) - errors != 1 else ''}",
            err=errors > 0,
        )
    if errors:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(campaign)
