"""The CLI documents itself: every command has help with an example, docs/cli.md is that help as
the commands print it now (generated with cog), and docs/configuration.md names every setting."""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cogapp import Cog
from pydantic import BaseModel

from pipeline.cli import main
from pipeline.config import Settings

REPO = Path(__file__).resolve().parents[2]
CLI_DOCS = REPO / "docs" / "cli.md"
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "clinicmail"):
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = list(_commands(main))
IDS = [path for path, _ in COMMANDS]
# clinic.toml's sections: the settings that are themselves models ([clinic], [delivery], ...).
SECTIONS = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_command_has_help_with_an_example(path, command):
    assert command.help, f"{path} has no help text"
    assert "Example:" in command.help, f"{path}'s help has no Example: block"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_examples_print_one_command_a_line(path, command):
    """Click rewraps help paragraphs; an example must come out as written, one per line."""
    shown = CliRunner().invoke(main, [*path.split()[1:], "--help"], terminal_width=80).output
    example = shown.split("Example:", 1)[1].split("\nOptions:", 1)[0]
    lines = [line.strip() for line in example.splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert line.startswith("clinicmail ") and line.count("clinicmail ") == 1, line


def test_cli_reference_is_the_commands_help_as_it_is_now():
    status = Cog().main(["cog", "--check", "--diff", "--verbosity=0", str(CLI_DOCS)])
    assert status == 0, "docs/cli.md is out of date: run `make docs`"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_cli_reference_documents_command_and_its_options(path, command):
    text = CLI_DOCS.read_text(encoding="utf-8")
    section = re.search(rf"^##+ `{re.escape(path)}`\n(.*?)(?=^##+ |\Z)", text, re.M | re.S)
    assert section, f"docs/cli.md has no '`{path}`' section"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and parameter.name != "help":
            longest = max(parameter.opts, key=len)
            assert longest in section[1], f"docs/cli.md's {path} section lacks {longest}"


def test_cli_reference_names_no_command_that_does_not_exist():
    text = CLI_DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^##+ `(clinicmail [^`]+)`", text, re.M))
    assert documented <= set(IDS)


@pytest.mark.parametrize(("section", "model"), SECTIONS.items(), ids=list(SECTIONS))
def test_configuration_documents_every_key_of_each_section(section, model):
    row = re.search(rf"^\| `\[{section}\]` \|(.*)$", CONFIGURATION, re.M)
    assert row, f"docs/configuration.md has no table row for [{section}]"
    for key in model.model_fields:
        assert f"`{key}`" in row[1], f"docs/configuration.md's [{section}] row lacks {key}"


def test_configuration_documents_every_environment_variable():
    source = "\n".join(path.read_text(encoding="utf-8") for path in REPO.glob("pipeline/**/*.py"))
    variables = set(re.findall(r"\"((?:CLINICMAIL|SENDGRID)_[A-Z_]+)\"", source))
    assert "CLINICMAIL_DATABASE_URL" in variables
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", CONFIGURATION, re.M))
    assert variables <= documented, f"not in docs/configuration.md: {variables - documented}"
