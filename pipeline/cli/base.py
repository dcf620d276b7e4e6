"""The command group, its shared context and the translation of errors into messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import click
from sqlalchemy import Engine

from pipeline.config import Settings, load_settings
from pipeline.errors import ClinicmailError
from pipeline.store import open_engine, require_current_schema


class AppContext:
    """What a command needs, opened on first use so that `--help` touches nothing."""

    def __init__(self, workspace: str | None):
        self.workspace = workspace

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.workspace)

    @cached_property
    def engine(self) -> Engine:
        """The database, checked to carry every migration this version ships."""
        engine = open_engine(self.settings.database_url)
        try:
            require_current_schema(engine)
        except ClinicmailError:
            engine.dispose()
            raise
        return engine

    def listen_on(self, host: str, port: int) -> None:
        """The web app will listen on `host`:`port`: the public address follows unless set."""
        self.settings = self.settings.listening_on(host, port)

    def close(self) -> None:
        """Return the engine's connections when the command ends (unclosed ones warn)."""
        if "engine" in self.__dict__:
            self.engine.dispose()


class ClinicmailGroup(click.Group):
    """A group whose commands report a ClinicmailError as one line on stderr, exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClinicmailError as error:
            raise click.ClickException(error.for_command_line()) from None


@click.group(cls=ClinicmailGroup)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False),
    envvar="CLINICMAIL_WORKSPACE",
    help="The clinic's workspace (the folder with clinic.toml). Default: found from here up.",
)
@click.version_option(package_name="clinicmail")
@click.pass_context
def main(ctx: click.Context, workspace: str | None) -> None:
    """clinicmail: a clinic's articles into segmented, tracked email campaigns.

    Example:

        clinicmail content sync
    """
    ctx.obj = AppContext(workspace)
    ctx.call_on_close(ctx.obj.close)


pass_app = click.make_pass_decorator(AppContext)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned text table: readable in a terminal and in a log."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    line = "  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True))
    click.echo(line.rstrip())
    click.echo("  ".join("-" * width for width in widths))
    for row in cells:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def is_terminal() -> bool:
    return sys.stdout.isatty()
