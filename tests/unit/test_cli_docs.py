"""The CLI documents itself: every command has help with an example, and the README's CLI
reference names every command and every option."""

import re
from pathlib import Path

import click
import pytest

from pipeline.cli import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "clinicmail"):
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = list(_commands(main))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_command_has_help_with_an_example(path, command):
    assert command.help, f"{path} has no help text"
    assert "Example:" in command.help, f"{path}'s help has no Example: block"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_readme_documents_command_and_its_options(path, command):
    if isinstance(command, click.Group) and command.commands:
        return
    section = re.search(rf"^### `{re.escape(path)}`\n(.*?)(?=^### |^## |\Z)", README, re.M | re.S)
    assert section, f"README.md has no '### `{path}`' section"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and parameter.name != "help":
            longest = max(parameter.opts, key=len)
            assert longest in section[1], f"README's {path} section does not mention {longest}"


def test_readme_names_no_command_that_does_not_exist():
    documented = set(re.findall(r"^### `(clinicmail [^`]+)`", README, re.M))
    assert documented <= {path for path, _ in COMMANDS}
