"""Scheduling commands: the worker, campaign-file sync, the lifecycle actions added to the
`campaign` group (approve, schedule, pause, resume, cancel) and the owner's weekly report."""

from __future__ import annotations

import getpass
import logging
import signal
import threading
from pathlib import Path

import click

from pipeline.campaigns.actions import (
    ActionResult,
    approve_campaign,
    cancel_campaign,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from pipeline.cli.base import AppContext, pass_app, print_json
from pipeline.timerules import format_local, parse_local_time


def _person() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


_BY = click.option(
    "--by",
    "actor",
    default=None,
    help="Who is doing this, recorded with the campaign (default: your login name).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _show(app: AppContext, result: ActionResult, as_json: bool) -> None:
    campaign = result.campaign
    if as_json:
        zone = app.settings.clinic.zone
        print_json(
            {
                "slug": campaign.slug,
                "state": campaign.state,
                "scheduled_for": campaign.scheduled_for,
                "scheduled_for_local": (
                    format_local(campaign.scheduled_for, zone) if campaign.scheduled_for else None
                ),
                "approved_by": campaign.approved_by,
                "approved_at": campaign.approved_at,
                "state_reason": campaign.state_reason,
                "message": result.message,
                "notes": list(result.notes),
            }
        )
        return
    click.echo(result.message)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


@click.command("approve")
@click.argument("slug")
@_BY
@_JSON
@pass_app
def approve(app: AppContext, slug: str, actor: str | None, as_json: bool) -> None:
    """Approve campaign SLUG: only approved campaigns are ever sent. Records who and when.

    Example:

        clinicmail campaign approve spring-back-care --by "marketing"
    """
    _show(app, approve_campaign(app.engine, slug, actor or _person()), as_json)


@click.command("schedule")
@click.argument("slug")
@click.option(
    "--at",
    "at",
    default=None,
    help='Local clinic time "YYYY-MM-DD HH:MM[:SS]" (default: the time in the campaign file).',
)
@_JSON
@pass_app
def schedule(app: AppContext, slug: str, at: str | None, as_json: bool) -> None:
    """Schedule approved campaign SLUG at its file's time, or at --at (clinic local time).

    A time that a daylight-saving change skips or repeats is refused, naming the time.

    Example:

        clinicmail campaign schedule spring-back-care --at "2026-12-01 09:30"
    """
    when = parse_local_time(at, app.settings.clinic.zone) if at else None
    _show(app, schedule_campaign(app.engine, app.settings, slug, when), as_json)


@click.command("pause")
@click.argument("slug")
@_BY
@_JSON
@pass_app
def pause(app: AppContext, slug: str, actor: str | None, as_json: bool) -> None:
    """Pause campaign SLUG (scheduled or sending) until it is resumed.

    Example:

        clinicmail campaign pause spring-back-care
    """
    _show(app, pause_campaign(app.engine, slug, actor or _person()), as_json)


@click.command("resume")
@click.argument("slug")
@_JSON
@pass_app
def resume(app: AppContext, slug: str, as_json: bool) -> None:
    """Resume paused campaign SLUG: sending again, or scheduled when it had not started.

    Example:

        clinicmail campaign resume spring-back-care
    """
    _show(app, resume_campaign(app.engine, app.settings, slug), as_json)


@click.command("cancel")
@click.argument("slug")
@_BY
@_JSON
@pass_app
def cancel(app: AppContext, slug: str, actor: str | None, as_json: bool) -> None:
    """Cancel campaign SLUG; emails still queued for it are skipped, never sent.

    Example:

        clinicmail campaign cancel spring-back-care
    """
    _show(app, cancel_campaign(app.engine, slug, actor or _person()), as_json)


@click.command("sync")
@_JSON
@pass_app
def sync(app: AppContext, as_json: bool) -> None:
    """Sync campaigns/*.yaml into the database: new files become drafts, a changed send time
    reschedules, other changes need approving again, and a change after sending started is
    refused (exit code 1, with the reason).

    Example:

        clinicmail sync
    """
    from pipeline.campaigns.sync import sync_campaigns

    report = sync_campaigns(app.engine, app.settings)
    if as_json:
        print_json(report.as_dict())
    else:
        for name, slugs in report.as_dict().items():
            if slugs and name != "refused":
                click.echo(f"{name}: {', '.join(slugs)}")
    for line in report.refused:
        click.echo(f"refused: {line}", err=True)
    if report.refused:
        raise SystemExit(1)


@click.command("worker")
@click.option("--id", "worker_id", default=None, help="This worker's name (default: host-pid).")
@click.option(
    "--tick",
    "tick_seconds",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between the scheduler's looks at the database (and an idle outbox's).",
)
@click.option(
    "--takeover",
    "takeover_seconds",
    type=click.FloatRange(min=0.1, max=60),
    default=15.0,
    show_default=True,
    help="Seconds between a standby's attempts to take the scheduler lock.",
)
@pass_app
def worker(
    app: AppContext, worker_id: str | None, tick_seconds: float, takeover_seconds: float
) -> None:
    """Run a worker until interrupted: it drains the outbox and, when it holds the scheduler
    lock, runs the scheduler (one active per database; the others stand by and take over).

    Example:

        clinicmail worker --id worker-1
    """
    from pipeline.store import open_engine, upgrade
    from pipeline.worker.scheduler import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Migrate first, on an engine of its own: app.engine refuses a database not yet migrated.
    migrating = open_engine(app.settings.database_url)
    try:
        upgrade(migrating)
    finally:
        migrating.dispose()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run_worker(
        app.settings,
        stop,
        worker_id=worker_id,
        engine=app.engine,
        tick_seconds=tick_seconds,
        takeover_seconds=takeover_seconds,
    )


@click.command("report")
@click.option("--week", is_flag=True, required=True, help="The week that ended last midnight.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE (.eml: the whole email; .html: the page) instead of "
    "sending it to the owners.",
)
@pass_app
def report(app: AppContext, week: bool, out: Path | None) -> None:
    """The owner's weekly report: each campaign's and segment's numbers for the last 7 days and
    a chart. Sent to every owner through the configured backend, or written with --out.

    Example:

        clinicmail report --week --out var/report.eml
    """
    from pipeline.report import send_weekly_report, write_weekly_report

    if out is not None:
        written = write_weekly_report(app.engine, app.settings, out)
        click.echo(f"wrote {written}")
        return
    recipients = send_weekly_report(app.engine, app.settings)
    click.echo(f"sent the weekly report to {len(recipients)} owner(s): {', '.join(recipients)}")


def register(group: click.Group) -> None:
    group.add_command(worker)
    group.add_command(sync)
    group.add_command(report)
    campaign = group.commands.get("campaign")
    if not isinstance(campaign, click.Group):
        raise RuntimeError("pipeline.cli.schedule registers after the campaign group exists")
    for command in (approve, schedule, pause, resume, cancel):
        campaign.add_command(command)
