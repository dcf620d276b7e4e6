"""Bookings commands: import the booking system's appointments export."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.bookings.columns import load_bookings_mapping
from pipeline.bookings.figures import attribution_key
from pipeline.bookings.importer import BookingsReport, import_bookings
from pipeline.cli.base import AppContext, pass_app, print_json
from pipeline.contacts.columns import ColumnMapping

SHOWN_REJECTIONS = 50


@click.group()
def bookings() -> None:
    """Bookings: import the booking system's appointments, credited to campaign emails.

    Example:

        clinicmail bookings import appointments.csv --json
    """


@bookings.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A YAML file naming what unusual columns hold (columns: {Heading: field}).",
)
@click.option("--dry-run", is_flag=True, help="Check and count everything, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@pass_app
def import_command(
    app: AppContext, file: Path, mapping: Path | None, dry_run: bool, as_json: bool
) -> None:
    """Import appointments from FILE, a CSV exported from a booking system.

    Columns: client email, appointment start, service, price, when it was booked and status
    (booked, cancelled, no-show); usual headings (Email, Start, Service, Price, Booked At,
    Status, Appointment ID, ...) are recognised, --mapping names the others. Times without an
    offset are the clinic's local time. Importing the same file again changes nothing: an
    appointment is known by its id, else by email, start and service. Addresses that are no
    contact are counted, not added. Each booking is credited to the campaign email the client
    last clicked (or opened, see [attribution] in clinic.toml) before booking.

    Example:

        clinicmail bookings import appointments.csv --mapping mapping.yaml --json
    """
    column_mapping = load_bookings_mapping(mapping) if mapping else ColumnMapping()
    report = import_bookings(
        app.engine,
        file,
        zone=app.settings.clinic.zone,
        attribution=attribution_key(app.settings),
        mapping=column_mapping,
        dry_run=dry_run,
    )
    if as_json:
        print_json(report.as_dict())
    else:
        _print_report(report)


def _print_report(report: BookingsReport) -> None:
    click.echo(
        f"read {report.read} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected; "
        f"{report.unknown_addresses} of addresses that are no contact"
    )
    if report.dry_run:
        click.echo("dry run: nothing was written")
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}")
    for rejection in report.rejected[:SHOWN_REJECTIONS]:
        click.echo(f"  row {rejection.row}, {rejection.column}: {rejection.reason}")
    hidden = len(report.rejected) - SHOWN_REJECTIONS
    if hidden > 0:
        click.echo(f"  ... and {hidden} more (--json lists them all)")


def register(main: click.Group) -> None:
    main.add_command(bookings)
