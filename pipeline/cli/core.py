"""Workspace and database commands: init, db upgrade."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.base import AppContext, pass_app
from pipeline.store import current_revision, open_engine, upgrade
from pipeline.workspace import CONFIG_FILE

SAMPLE_CONFIG = """\
[clinic]
name = "Your Clinic"
postal_address = "1 High Street, Town AB1 2CD, United Kingdom"
timezone = "Europe/London"
website = "https://your-clinic.example"
booking_url = "https://your-clinic.example/book"

[sender]
name = "Your Clinic"
email = "news@your-clinic.example"
reply_to = "hello@your-clinic.example"

[delivery]
backend = "local"
"""


@click.command()
@click.argument("directory", type=click.Path(file_okay=False), default=".")
def init(directory: str) -> None:
    """Make DIRECTORY a clinicmail workspace: clinic.toml and the folders it uses.

    An existing clinic.toml is left as it is.

    Example:

        clinicmail init my-clinic
    """
    root = Path(directory)
    for folder in ("content", "campaigns", "templates", "var"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_FILE
    if config.exists():
        click.echo(f"{config} already exists; left as it is")
    else:
        config.write_text(SAMPLE_CONFIG, encoding="utf-8")
        click.echo(f"wrote {config}: fill in your clinic's details")


@click.group()
def db() -> None:
    """The database: migrations.

    Example:

        clinicmail db upgrade
    """


@db.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Apply every database migration not yet applied.

    Example:

        clinicmail db upgrade
    """
    engine = open_engine(app.settings.database_url)
    try:
        upgrade(engine)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(db)
