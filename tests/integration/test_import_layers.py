"""The package's import contracts (pyproject.toml, [tool.importlinter]): every package imports
only the floors below it, no two modules of one package import each other round a loop, and the
contracts really fail on a loop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from importlinter.application.use_cases import FAILURE, SUCCESS, lint_imports
from importlinter.configuration import configure

ROOT = Path(__file__).resolve().parents[2]


def run_contracts(config: Path) -> bool:
    # What the lint-imports command sets up first: its readers and the grimp graph builder.
    configure()
    return lint_imports(config_filename=str(config), cache_dir=None, no_logo=True)


def test_the_package_keeps_its_import_contracts(capsys):
    assert run_contracts(ROOT / "pyproject.toml") == SUCCESS, capsys.readouterr().out


CONTRACTS = """
[tool.importlinter]
root_package = "clinicshaped"

[[tool.importlinter.contracts]]
id = "floors"
name = "floors"
type = "layers"
layers = ["clinicshaped.outbox", "clinicshaped.store"]

[[tool.importlinter.contracts]]
id = "no-loops"
name = "no loops"
type = "acyclic_siblings"
ancestors = ["clinicshaped"]
"""


def write_package(base: Path, modules: dict[str, str]) -> Path:
    """A small package `clinicshaped` with these modules (dotted name below it: source) and the
    same kinds of contract as pipeline's; the config file's path."""
    for name, source in {"": "", **modules}.items():
        path = base.joinpath("clinicshaped", *name.split(".") if name else ())
        path.mkdir(parents=True, exist_ok=True)
        (path / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    config = base / "contracts.toml"
    config.write_text(CONTRACTS, encoding="utf-8")
    return config


@pytest.fixture
def package_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_package_whose_imports_point_down_passes(package_dir, capsys):
    config = write_package(
        package_dir,
        {
            "outbox": "from clinicshaped.store import rows\n",
            "store": "rows = []\n",
            "report": "from clinicshaped import outbox\n",
        },
    )
    assert run_contracts(config) == SUCCESS, capsys.readouterr().out


def test_a_loop_between_two_packages_fails_even_when_dodged_inside_a_function(package_dir, capsys):
    config = write_package(
        package_dir,
        {
            "outbox": "",
            "report": "from clinicshaped.segments import rules\n",
            "segments": """
                rules = []

                def summary():
                    from clinicshaped.report import build
                    return build
            """,
            "store": "",
        },
    )
    assert run_contracts(config) == FAILURE
    out = capsys.readouterr().out
    assert "no loops BROKEN" in out
    assert ".segments -> .report (1 import)" in out


def test_a_store_importing_a_floor_above_it_fails(package_dir, capsys):
    config = write_package(
        package_dir,
        {"outbox": "", "store": "from clinicshaped import outbox\n"},
    )
    assert run_contracts(config) == FAILURE
    assert "floors BROKEN" in capsys.readouterr().out


def test_a_sending_process_imports_only_what_it_sends_with():
    """A sending process starts with the processes module and its SendGrid backend: neither the
    template compiler, the article parsers, the store nor the other backends come with them, so
    each process starts quickly and stays small."""
    probe = (
        "import sys, pipeline.delivery.processes, pipeline.delivery.sendgrid; "
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "pipeline.render.message" in loaded
    unwanted = (
        "pipeline.render.compile",
        "pipeline.content",
        "pipeline.store",
        "mrml",
        "jinja2",
        "sqlalchemy",
        "pipeline.delivery.smtp",
        "pipeline.delivery.file",
    )
    assert [name for name in unwanted if name in loaded] == []


def test_the_command_the_app_and_the_worker_load_no_development_server():
    """The local SendGrid-compatible server is loaded only when a workspace chooses the local
    backend (through its entry points) or a `clinicmail dev` command starts it."""
    probe = (
        "import sys, pipeline.cli, pipeline.web.app, pipeline.worker.scheduler; "
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "pipeline.worker.scheduler" in loaded
    assert [name for name in loaded if name.startswith("pipeline.devserver")] == []
