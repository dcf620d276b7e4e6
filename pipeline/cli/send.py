"""`clinicmail campaign send`: start a campaign now and drain its outbox, with a progress bar on
a terminal and a summary at the end."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from zoneinfo import ZoneInfo

import click

from pipeline.cli.base import AppContext, is_terminal, pass_app, print_json, print_table
from pipeline.delivery.backends import open_outbox_backend
from pipeline.outbox import (
    DrainReport,
    OutboxSummary,
    drain_outbox,
    outbox_summary,
    start_campaign,
)
from pipeline.timerules import format_local

STATUS_ORDER = (
    "queued", "sending", "unknown", "sent", "delivered", "bounced", "dropped", "failed", "skipped",
)  # fmt: skip


@contextmanager
def _stop_on_interrupt(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the drain after the batches in flight, instead of killing it
    between a request and its record."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def request_stop(signum, frame) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.command("send")
@click.argument("slug")
@click.option("--now", "now", is_flag=True, help="Start the campaign at once (required).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@pass_app
def send(app: AppContext, slug: str, now: bool, as_json: bool) -> None:
    """Start approved campaign SLUG now and send it, until its outbox is drained.

    Starting renders and checks every variant (an error stops it before anything is written),
    then snapshots the audience into the outbox: one row per mailable client, with the variant
    of their best-fitting segment. Running it again on a campaign that is already sending
    resumes draining its outbox; nobody is sent the campaign twice. Ctrl-C stops after the
    batches in flight; quiet hours and closure dates hold the sending until they end.

    Example:

        clinicmail campaign send full-treatment-for-back-pain --now
    """
    if not now:
        raise click.UsageError(
            f"add --now to send {slug!r} at once, or schedule it with "
            f"`clinicmail campaign schedule {slug}`"
        )
    settings, engine = app.settings, app.engine
    started = start_campaign(engine, settings, slug)
    for warning in started.warnings:
        click.echo(f"warning: {warning.segment}: {warning.message}", err=True)
    before = outbox_summary(engine, slug)
    backend = open_outbox_backend(settings)
    stop = threading.Event()
    done = 0
    with ExitStack() as stack:
        stack.callback(backend.close)
        stack.enter_context(_stop_on_interrupt(stop))
        bar = (
            stack.enter_context(
                click.progressbar(length=before.open, label=f"sending {slug}", show_pos=True)
            )
            if is_terminal() and not as_json
            else None
        )

        def advance(report: DrainReport) -> None:
            nonlocal done
            settled = report.sent + report.failed + report.skipped
            if bar is not None and settled > done:
                bar.update(settled - done)
            done = settled

        report = drain_outbox(
            engine,
            settings,
            backend,
            started.campaign_id,
            stop=stop,
            wait_for_unknown=True,
            progress=advance,
        )
    after = outbox_summary(engine, slug)
    if as_json:
        print_json(_document(started.started, report, after))
    else:
        _print_summary(started.started, report, after, settings.clinic.zone)


def _document(started: bool, report: DrainReport, summary: OutboxSummary) -> dict:
    return {
        "campaign": summary.slug,
        "started": started,
        "state": summary.state,
        "outbox": summary.counts,
        "segments": {name: dict(counts) for name, counts in summary.by_segment.items()},
        "this_run": {
            "handed_off": report.handed_off,
            "sent": report.sent,
            "failed": report.failed,
            "skipped": report.skipped,
            "retried": report.retried,
            "unknown": report.unknown,
            "reconciled_sent": report.reconciled_sent,
            "requeued": report.requeued,
        },
        "stopped": report.stopped,
        "held_until": report.held_until.isoformat() if report.held_until else None,
    }


def _print_summary(
    started: bool, report: DrainReport, summary: OutboxSummary, zone: ZoneInfo
) -> None:
    verb = "started" if started else "resumed"
    click.echo(
        f"{summary.slug}: {verb}; {report.handed_off} handed to the provider in this run; "
        f"campaign is {summary.state}"
    )
    statuses = [s for s in STATUS_ORDER if any(s in c for c in summary.by_segment.values())]
    print_table(
        ("segment", *statuses),
        (
            (segment, *(counts.get(status, 0) for status in statuses))
            for segment, counts in sorted(summary.by_segment.items())
        ),
    )
    if report.held_until is not None:
        click.echo(
            f"held by quiet hours or a closure date until {format_local(report.held_until, zone)}"
            "; a running `clinicmail worker` carries on then"
        )
    elif report.stopped:
        click.echo(f"stopped; run `clinicmail campaign send {summary.slug} --now` to resume")


def register(group: click.Group) -> None:
    """`send` on the `campaign` group (registered before this)."""
    group.commands["campaign"].add_command(send)
