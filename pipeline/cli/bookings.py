"""Bookings commands: import the booking system's appointments export."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.bookings.columns import load_bookings_mapping
from pipeline.bookings.figures import attribution_key
from pipeline.bookings.importer import import_bookings
from pipeline.cli.base import AppContext, pass_app, print_json
from pipeline.cli.contacts import print_import_report
from pipeline.contacts.columns import ColumnMapping


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
        print_import_report(
            report, also=f"; {report.unknown_addresses} for addresses that are not a contact"
        )


def register(main: click.Group) -> None:
    main.add_command(bookings)
