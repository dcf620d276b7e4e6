"""Metrics commands: `campaign status` (one campaign per segment) and `metrics` (the owner's
overview of the last days, per segment, with a daily series)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from pipeline.bookings.figures import ensure_attribution, figures_document
from pipeline.cli.base import AppContext, pass_app, print_json, print_table
from pipeline.metrics import (
    DAILY_FIGURES,
    campaign_document,
    campaign_metrics,
    daily_series,
    local_today,
    overview,
    rate,
)
from pipeline.models import MetricCounts, SegmentMetrics

_HEADERS = (
    "segment", "audience", "queued", "sent", "delivered", "bounced", "dropped", "opens",
    "machine opens", "clicks", "click rate", "click-to-open", "booking clicks", "unsubscribes",
    "complaints", "failed", "skipped", "unknown",
)  # fmt: skip
SIMULATED_NOTE = (
    "note: some figures come from simulated events (the local delivery server's demo opens, "
    "clicks, bounces and unsubscribes), not from real recipients"
)


def _row(label: str, counts: MetricCounts) -> list[Any]:
    return [
        label, counts.audience, counts.queued, counts.sent, counts.delivered, counts.bounced,
        counts.dropped, counts.opens, counts.machine_opens, counts.clicks, rate(counts.click_rate),
        rate(counts.click_to_open_rate), counts.booking_clicks, counts.unsubscribes,
        counts.complaints, counts.failed, counts.skipped, counts.unknown,
    ]  # fmt: skip


def _figures_table(segments: tuple[SegmentMetrics, ...], totals: MetricCounts) -> None:
    rows = [_row(segment.segment, segment.counts) for segment in segments]
    print_table(_HEADERS, [*rows, _row("total", totals)])


@click.command("status")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@pass_app
def campaign_status(app: AppContext, slug: str, as_json: bool) -> None:
    """Show a campaign's figures per segment: audience, sends, deliveries, bounces, opens,
    clicks and booking clicks, unsubscribes, complaints, failures and skips.

    Engagement counts sends, not events: a client who opens twice is one open. Opens by
    machines (mail privacy proxies) are counted apart from opens by people.

    Example:

        clinicmail campaign status spring-back-care --json
    """
    ensure_attribution(app.engine, app.settings)
    with app.engine.connect() as conn:
        metrics = campaign_metrics(conn, slug)
    if as_json:
        print_json(campaign_document(metrics))
        return
    zone = app.settings.clinic.zone
    line = f"{metrics.campaign} ({metrics.name}): {metrics.state}"
    if metrics.scheduled_for:
        line += f", scheduled for {metrics.scheduled_for.astimezone(zone):%Y-%m-%d %H:%M %Z}"
    if metrics.started_at:
        line += f", started {metrics.started_at.astimezone(zone):%Y-%m-%d %H:%M %Z}"
    click.echo(line)
    click.echo()
    _figures_table(metrics.segments, metrics.totals)
    if metrics.simulated:
        click.echo()
        click.echo(SIMULATED_NOTE)


@click.command("metrics")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=30,
    show_default=True,
    help="How many days back, today included (in the clinic's timezone).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@pass_app
def metrics_command(app: AppContext, days: int, as_json: bool) -> None:
    """The owner's overview of the last days: per segment across campaigns, the campaigns
    involved and a series per day, saying when any figure comes from simulated events.

    Sends count for the campaigns started in the period; opens, clicks, bounces and the rest
    count on the day a send first had them.

    Example:

        clinicmail metrics --days 7
    """
    today = local_today(app.settings.clinic.zone)
    since = today - timedelta(days=days - 1)
    ensure_attribution(app.engine, app.settings)
    with app.engine.connect() as conn:
        summary = overview(conn, since, zone=app.settings.clinic.zone)
        series = daily_series(conn, None, days, today=today)
    if as_json:
        print_json(
            {
                "since": since.isoformat(),
                "days": days,
                "simulated": summary.simulated,
                "segments": [
                    {
                        "segment": segment.segment,
                        **figures_document(segment.counts, segment.bookings),
                    }
                    for segment in summary.segments
                ],
                "totals": figures_document(summary.totals, summary.bookings),
                "campaigns": [
                    {
                        "campaign": campaign.campaign,
                        "name": campaign.name,
                        "state": campaign.state,
                        "started_at": campaign.started_at.isoformat()
                        if campaign.started_at
                        else None,
                    }
                    for campaign in summary.campaigns
                ],
                "daily": [{"day": day.day.isoformat(), **day.counts} for day in series],
            }
        )
        return
    click.echo(f"Last {days} day(s), since {since.isoformat()} ({app.settings.clinic.timezone})")
    click.echo()
    _figures_table(summary.segments, summary.totals)
    active_days = [day for day in series if any(day.counts.values())]
    if active_days:
        click.echo()
        print_table(
            ("day", *DAILY_FIGURES),
            (
                [day.day.isoformat(), *(day.counts[name] for name in DAILY_FIGURES)]
                for day in active_days
            ),
        )
    if summary.campaigns:
        click.echo()
        print_table(
            ("campaign", "state", "started"),
            (
                [
                    campaign.campaign,
                    campaign.state,
                    campaign.started_at.astimezone(app.settings.clinic.zone).strftime(
                        "%Y-%m-%d %H:%M"
                    )
                    if campaign.started_at
                    else "",
                ]
                for campaign in summary.campaigns
            ),
        )
    if summary.simulated:
        click.echo()
        click.echo(SIMULATED_NOTE)


def register(group: click.Group) -> None:
    """`metrics` on the main group; `status` on the `campaign` group (registered before this)."""
    group.add_command(metrics_command)
    group.commands["campaign"].add_command(campaign_status)
