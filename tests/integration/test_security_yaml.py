"""Hostile YAML (findings 4 and 8): a "billion laughs", a NUL byte and nesting 5,000 deep in
campaigns/*.yaml, segments.yaml, a --mapping file and article front matter each give a
one-line error naming the file and line, at once, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.store import open_engine
from pipeline.store.tables import articles, campaigns, contacts

LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + n)}: &{chr(98 + n)} [{','.join(['*' + chr(97 + n)] * 9)}]" for n in range(8)]
)
DEEP = "name: " + "[" * 5000 + "]" * 5000
NUL = "name: spring\x00news\n"
HOSTILE = {"laughs": LAUGHS, "deep": DEEP, "nul": NUL}
# The line each is refused at: the first alias, the first bracket too deep, the NUL.
LINE = {"laughs": 2, "deep": 1, "nul": 1}


@pytest.fixture
def run(workspace_db: Path):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, ["--workspace", str(workspace_db), *args])

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def _count(workspace: Path, table) -> int:
    from pipeline.config import load_settings

    engine = open_engine(load_settings(workspace).database_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return count


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output[:2000]
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_campaign_file_is_refused_in_one_line(run, workspace_db, kind):
    for old in (workspace_db / "campaigns").glob("*.yaml"):
        if old.name != "segments.yaml":
            old.unlink()
    (workspace_db / "campaigns" / "spring.yaml").write_text(HOSTILE[kind], encoding="utf-8")
    result = run("sync")
    assert f"campaigns/spring.yaml:{LINE[kind]}: " in result.output, result.output[:2000]
    assert "Traceback" not in result.output
    assert len(result.output) < 2000
    assert _count(workspace_db, campaigns) == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_segments_file_is_refused_in_one_line(run, workspace_db, kind):
    (workspace_db / "campaigns" / "segments.yaml").write_text(HOSTILE[kind], encoding="utf-8")
    result = run("segments", "list")
    assert result.exit_code == 1
    assert _one_line(result.output).startswith(f"Error: campaigns/segments.yaml:{LINE[kind]}: ")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_mapping_file_is_refused_in_one_line(run, workspace_db, tmp_path, kind):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(HOSTILE[kind], encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text("Email Address,Marketing Consent\nann@example.org,yes\n", encoding="utf-8")
    result = run("contacts", "import", str(export), "--mapping", str(mapping))
    assert result.exit_code == 1
    line = _one_line(result.output)
    assert f"{mapping}:{LINE[kind]}: " in line
    assert _count(workspace_db, contacts) == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_front_matter_is_refused_in_one_line(run, workspace_db, kind):
    for old in (workspace_db / "content").rglob("*"):
        if old.is_file():
            old.unlink()
    (workspace_db / "content" / "evil.md").write_text(
        f"---\n{HOSTILE[kind]}\n---\nText.\n", encoding="utf-8"
    )
    result = run("content", "sync")
    assert "content/evil.md:" in result.output, result.output[:2000]
    assert "Traceback" not in result.output
    assert len(result.output) < 2000
    assert _count(workspace_db, articles) == 0


def test_a_yaml_alias_names_its_line(run, workspace_db):
    (workspace_db / "campaigns" / "segments.yaml").write_text(
        "segments:\n  athletes: &x\n    label: A\n  runners: *x\n", encoding="utf-8"
    )
    result = run("segments", "list")
    assert _one_line(result.output) == (
        "Error: campaigns/segments.yaml:4: YAML aliases ('*name') are not accepted: "
        "write the value out in full"
    )
