"""Contact commands: import a booking system's export, export, erase or add back one person,
and seed fictional demo clients."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.base import AppContext, is_terminal, pass_app, print_json
from pipeline.contacts.columns import ColumnMapping, load_mapping
from pipeline.contacts.importer import ImportReport, import_contacts
from pipeline.demo import seed_demo_contacts
from pipeline.shortlist import summarise
from pipeline.store import utcnow
from pipeline.store.contacts import (
    contact_export,
    erase_contact,
    get_contact,
    resubscribe_contact,
)

# Rejections listed in the text report; --json lists them all.
SHOWN_REJECTIONS = 50


@click.group()
def contacts() -> None:
    """Contacts: import a booking system's export, export, erase or add back one person.

    Example:

        clinicmail contacts import clients.csv --dry-run
    """


@contacts.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A YAML file naming what unusual columns hold (columns: {Heading: target}).",
)
@click.option("--dry-run", is_flag=True, help="Check and count everything, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@pass_app
def import_command(
    app: AppContext, file: Path, mapping: Path | None, dry_run: bool, as_json: bool
) -> None:
    """Import clients from FILE, a CSV exported from a booking system.

    Usual headings (Email, First Name, Last Name, Tags, Marketing Consent, Email Opt In,
    Occupation, Date of Birth, ...) are recognised whatever their case and spacing; --mapping
    names the others. Rows merge by email address with each other and with the contacts
    already held: the newest non-empty value wins and tags are united. A row without marketing
    consent is imported but not mailed. Bad rows are reported with their row number and column
    and never stop the good ones; a file that cannot be read at all changes nothing.

    Example:

        clinicmail contacts import clients.csv --mapping mapping.yaml --json
    """
    column_mapping = load_mapping(mapping) if mapping else ColumnMapping()
    show_progress = is_terminal() and not as_json
    if show_progress:
        with click.progressbar(
            length=max(file.stat().st_size, 1) if file.is_file() else 1,
            label="Importing",
            file=sys.stderr,
        ) as bar:

            def advance(done: int, _total: int) -> None:
                bar.update(done - bar.pos)

            report = import_contacts(
                app.engine, file, mapping=column_mapping, dry_run=dry_run, progress=advance
            )
    else:
        report = import_contacts(app.engine, file, mapping=column_mapping, dry_run=dry_run)
    if as_json:
        print_json(report.as_dict())
    else:
        print_import_report(report)


def print_import_report(report: ImportReport, *, also: str = "") -> None:
    """An import's report as a person reads it (contacts and bookings imports alike): the
    counts (then `also`), what was ignored, and the first rejected rows."""
    click.echo(
        f"read {report.read} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected{also}"
    )
    if report.dry_run:
        click.echo("dry run: nothing was written")
    if report.ignored_columns:
        click.echo(f"ignored columns: {summarise(report.ignored_columns)}")
    for rejection in report.rejected[:SHOWN_REJECTIONS]:
        click.echo(f"  row {rejection.row}, {rejection.column}: {rejection.reason}")
    hidden = len(report.rejected) - SHOWN_REJECTIONS
    if hidden > 0:
        click.echo(f"  ... and {hidden} more (--json lists them all)")


@contacts.command("export")
@click.argument("email")
@pass_app
def export_command(app: AppContext, email: str) -> None:
    """Print everything held about the person with EMAIL as JSON: their details, consent,
    preferences, suppressions and the emails sent to them, with "mailable" and, when false,
    why not.

    Example:

        clinicmail contacts export jane@example.org > jane.json
    """
    with app.engine.connect() as conn:
        print_json(contact_export(conn, email, utcnow()))


@contacts.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def erase_command(app: AppContext, email: str, yes: bool) -> None:
    """Erase the person with EMAIL: delete their personal data and keep only a hash of the
    address, so that no later import makes them mailable again. Emails already sent stay in
    campaign totals without their name.

    Example:

        clinicmail contacts erase jane@example.org --yes
    """
    if not yes:
        click.confirm(
            f"Erase everything held about {email.strip()}? This cannot be undone", abort=True
        )
    with app.engine.begin() as conn:
        deleted = erase_contact(conn, email, "erase-command", utcnow())
    if deleted:
        click.echo(f"erased {email.strip()}: contact deleted, address kept suppressed by its hash")
    else:
        click.echo(
            f"no contact held for {email.strip()}; its hash is suppressed so it is never mailed"
        )


@contacts.command("resubscribe")
@click.argument("email")
@click.option(
    "--note",
    required=True,
    help="How they asked to be added back (where, when, in what words); kept with the consent.",
)
@pass_app
def resubscribe_command(app: AppContext, email: str, note: str) -> None:
    """Add back the person with EMAIL, who unsubscribed and has asked for newsletters again.
    Their unsubscribe is lifted; a bounce or spam report on the address still stops mail.

    Example:

    \b
        clinicmail contacts resubscribe jane@example.org --note "asked at reception, 21 Nov"
    """
    if not note.strip():
        raise click.BadParameter("say how they asked to be added back", param_hint="--note")
    with app.engine.begin() as conn:
        contact = get_contact(conn, email)
        assert contact.id is not None
        added = resubscribe_contact(conn, contact.id, "resubscribe-command", note.strip(), utcnow())
    if added:
        click.echo(f"{email.strip()} is subscribed again")
    else:
        status = contact.consent_status
        click.echo(f"{email.strip()} was not unsubscribed ({status}): nothing changed")


@click.group()
def demo() -> None:
    """Fictional sample data for trying clinicmail out.

    Example:

        clinicmail demo seed --contacts 2000
    """


@demo.command("seed")
@click.option("--contacts", "count", type=click.IntRange(1, 5_000_000), default=2000,
              show_default=True, help="How many fictional clients to add.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed: the same seed gives the same clients.")  # fmt: skip
@click.option("--if-empty", is_flag=True, help="Do nothing when contacts already exist.")
@pass_app
def seed_command(app: AppContext, count: int, seed: int, if_empty: bool) -> None:
    """Add fictional clients (names from Faker, addresses at example domains) whose attributes
    put about a quarter each in the athletes, desk workers and post-op segments, some in
    several and some in none; about 5% without consent, a few unsubscribed or bounced.

    Example:

        clinicmail demo seed --contacts 2000 --if-empty
    """
    report = seed_demo_contacts(app.engine, count, seed=seed, if_empty=if_empty)
    if report.skipped:
        click.echo(f"contacts already exist ({report.existing}); nothing seeded")
    else:
        click.echo(
            f"seeded {report.created} fictional contacts ({report.unsubscribed} unsubscribed, "
            f"{report.bounced} bounced, {report.without_consent} without consent)"
        )


def register(group: click.Group) -> None:
    group.add_command(contacts)
    existing = group.commands.get("demo")
    if isinstance(existing, click.Group):
        existing.add_command(seed_command)
    else:
        group.add_command(demo)
