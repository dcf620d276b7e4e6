"""The `content` commands through click's CliRunner: exit codes, one-line errors, exact JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"
DOCUMENT_KEYS = {
    "slug", "title", "summary", "published", "tags", "canonical_url", "hero_image", "blocks",
    "ctas", "word_count", "warnings",
}  # fmt: skip


def run(workspace: Path, *args: str):
    return CliRunner().invoke(main, ["--workspace", str(workspace), "content", *args])


def test_parse_json_prints_exactly_the_documented_keys(workspace):
    result = run(
        workspace, "parse", str(workspace / "content" / "glutes-and-sciatica.md"), "--json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == DOCUMENT_KEYS
    assert document["slug"] == "glutes-and-sciatica"
    assert document["published"] == "2026-06-03"
    assert {block["type"] for block in document["blocks"]} <= {
        "heading", "paragraph", "list", "quote", "image",
    }  # fmt: skip
    assert {cta["kind"] for cta in document["ctas"]} == {"booking", "read_more", "article_ref"}
    assert all(set(cta) == {"kind", "text", "url"} for cta in document["ctas"])
    assert document["warnings"] == []


def test_parse_json_of_plain_text_carries_warnings_with_lines(workspace):
    result = run(workspace, "parse", str(FIXTURES / "text" / "sitting-and-your-hips.txt"), "--json")
    assert result.exit_code == 0
    warnings = json.loads(result.stdout)["warnings"]
    assert [warning["line"] for warning in warnings] == [1, 5, 7]
    assert all(set(warning) == {"line", "message"} for warning in warnings)


def test_parse_json_of_a_feed_is_a_list(workspace):
    result = run(workspace, "parse", str(FIXTURES / "feeds" / "clinic-news.atom"), "--json")
    assert result.exit_code == 0
    documents = json.loads(result.stdout)
    assert [document["slug"] for document in documents] == [
        "evening-appointments",
        "desk-stretches",
    ]
    assert all(set(document) == DOCUMENT_KEYS for document in documents)


def test_parse_without_json_prints_a_readable_summary(workspace):
    result = run(workspace, "parse", str(FIXTURES / "text" / "title-line.txt"))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Winter Running Tips From Our Sports Therapists"
    assert "booking: Book your sports massage today -> " in result.stdout
    assert "warning: line 9: " in result.stdout


def test_parse_of_a_bad_file_fails_with_one_line_and_no_traceback(workspace):
    result = run(workspace, "parse", str(FIXTURES / "bad" / "broken-front-matter.md"))
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ") and "broken-front-matter.md:3: " in line
    assert "Traceback" not in result.output


def test_parse_of_a_missing_file_fails_cleanly(workspace):
    result = run(workspace, "parse", "no-such-article.md")
    assert result.exit_code == 1
    assert result.stderr == "Error: no-such-article.md: no such file\n"


def test_sync_then_list(workspace_db):
    first = run(workspace_db, "sync")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == "6 added, 0 updated, 0 unchanged"
    second = run(workspace_db, "sync")
    assert second.stdout == "0 added, 0 updated, 6 unchanged\n"
    listed = run(workspace_db, "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["title", "words", "warnings", "published", "slug"]
    assert lines[2].endswith("first-appointment")
    assert len(lines) == 8
    as_json = json.loads(run(workspace_db, "list", "--json").stdout)
    assert as_json[0]["slug"] == "first-appointment"
    assert set(as_json[0]) == {
        "slug", "title", "published", "word_count", "warnings", "tags", "source",
    }  # fmt: skip
    assert all(400 <= entry["word_count"] <= 800 for entry in as_json)


def test_sync_with_a_bad_file_fails_and_writes_nothing(workspace_db):
    shutil.copy(FIXTURES / "bad" / "empty.txt", workspace_db / "content" / "empty.txt")
    result = run(workspace_db, "sync")
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: content/empty.txt: the file is empty: write the article into it\n"
    )
    assert "no articles yet" in run(workspace_db, "list").stdout


def test_import_reports_added_then_unchanged(workspace_db):
    feed = str(FIXTURES / "feeds" / "clinic-blog.rss")
    first = run(workspace_db, "import", feed)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == "2 added, 0 updated, 0 unchanged"
    assert run(workspace_db, "import", feed).stdout == "0 added, 0 updated, 2 unchanged\n"


def test_import_needs_a_source(workspace_db):
    result = run(workspace_db, "import")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_commands_on_a_database_without_tables_say_what_to_run(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    for command in (["sync"], ["list"], ["import", str(FIXTURES / "text" / "post-3.txt")]):
        result = run(workspace, *command)
        assert result.exit_code == 1
        [line] = result.stderr.splitlines()
        assert line.startswith("Error: the database has no tables yet")
        assert "run 'clinicmail db upgrade'" in line


def test_parse_json_of_an_html_page(workspace):
    result = run(workspace, "parse", str(FIXTURES / "html" / "shoulder-tension.html"), "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert set(document) == DOCUMENT_KEYS
    assert document["title"] == "Shoulder tension and how to ease it"
    assert document["canonical_url"] == "https://harbourside-clinic.example/blog/shoulder-tension"
