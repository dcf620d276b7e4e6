"""The contacts, demo, segments and content relevance commands, through click's CliRunner, on
SQLite and PostgreSQL: exit codes and parsed --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main


@pytest.fixture
def run(workspace_db: Path):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, ["--workspace", str(workspace_db), *args], input=input)

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


CLIENTS = (
    "First Name,Last Name,Email Address,Tags,Marketing Consent,Occupation\n"
    "Ann,Lee,ann@example.org,runner,yes,Accountant\n"
    "Bob,Hale,bob@,,yes,\n"
    "Cy,Moss,cy@example.org,,,\n"
)


def test_import_json_report_and_dry_run(run, tmp_path):
    path = _csv(tmp_path, CLIENTS)
    dry = run("contacts", "import", path, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert {k: report[k] for k in ("read", "created", "updated", "unchanged")} == {
        "read": 3, "created": 2, "updated": 0, "unchanged": 0,
    }  # fmt: skip
    assert report["rejected"] == [
        {"row": 3, "column": "Email Address", "reason": report["rejected"][0]["reason"]}
    ]
    assert report["dry_run"] is True
    assert json.loads(run("contacts", "import", path, "--json").output)["created"] == 2
    again = run("contacts", "import", path)
    assert again.exit_code == 0
    assert "read 3 rows: 0 created, 0 updated, 2 unchanged, 1 rejected" in again.output
    assert "row 3, Email Address: 'bob@' is not a valid email address" in again.output


def test_import_with_a_mapping_file(run, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('columns:\n  "Mail": email\n  "Sport played": sport\n', encoding="utf-8")
    path = _csv(tmp_path, "Mail,Sport played\nkai@example.org,Rowing\n")
    result = run("contacts", "import", path, "--mapping", str(mapping), "--json")
    assert result.exit_code == 0, result.output
    exported = json.loads(run("contacts", "export", "kai@example.org").output)
    assert exported["attributes"] == {"sport": "Rowing"}


def test_an_unreadable_file_is_one_line_on_stderr_and_exit_1(run, tmp_path):
    result = run("contacts", "import", _csv(tmp_path, "Name,Phone\nAnn,1\n"))
    assert result.exit_code == 1
    assert "no email column" in result.output and "Traceback" not in result.output
    missing = run("contacts", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "file not found" in missing.output


def test_export_and_erase(run, tmp_path):
    run("contacts", "import", _csv(tmp_path, CLIENTS))
    ann = json.loads(run("contacts", "export", "ANN@example.org").output)
    assert ann["mailable"] is True and "why_not_mailable" not in ann
    assert ann["consent"]["status"] == "subscribed" and ann["tags"] == ["runner"]
    cy = json.loads(run("contacts", "export", "cy@example.org").output)
    assert cy["mailable"] is False and cy["why_not_mailable"] == "no marketing consent recorded"
    unknown = run("contacts", "export", "nobody@example.org")
    assert unknown.exit_code == 1 and "no contact with the address" in unknown.output
    refused = run("contacts", "erase", "ann@example.org", input="n\n")
    assert refused.exit_code == 1
    assert json.loads(run("contacts", "export", "ann@example.org").output)["first_name"] == "Ann"
    erased = run("contacts", "erase", "ann@example.org", "--yes")
    assert erased.exit_code == 0 and "erased ann@example.org" in erased.output
    after = json.loads(run("contacts", "export", "ann@example.org").output)
    assert after["mailable"] is False and "first_name" not in after
    report = json.loads(run("contacts", "import", _csv(tmp_path, CLIENTS), "--json").output)
    assert [r["row"] for r in report["rejected"]] == [2, 3]


def test_resubscribe_adds_back_only_someone_who_unsubscribed(run, tmp_path):
    run("contacts", "import", _csv(tmp_path, CLIENTS))
    ann = run("contacts", "resubscribe", "ann@example.org", "--note", "asked at reception")
    assert ann.exit_code == 0 and "was not unsubscribed (subscribed)" in ann.output
    run("contacts", "import", _csv(tmp_path, CLIENTS.replace("runner,yes", "runner,unsubscribed")))
    left = json.loads(run("contacts", "export", "ann@example.org").output)
    assert left["mailable"] is False and left["consent"]["status"] == "unsubscribed"
    without_note = run("contacts", "resubscribe", "ann@example.org", "--note", " ")
    assert without_note.exit_code == 2 and "say how they asked" in without_note.output
    back = run("contacts", "resubscribe", "ANN@example.org", "--note", "asked at reception")
    assert back.exit_code == 0 and "subscribed again" in back.output
    after = json.loads(run("contacts", "export", "ann@example.org").output)
    assert after["mailable"] is True
    assert after["consent"]["status"] == "subscribed"
    assert after["consent"]["wording"] == "asked at reception"
    unknown = run("contacts", "resubscribe", "nobody@example.org", "--note", "x")
    assert unknown.exit_code == 1 and "no contact with the address" in unknown.output


def test_demo_seed_segments_list_and_if_empty(run):
    seeded = run("demo", "seed", "--contacts", "400", "--seed", "7")
    assert seeded.exit_code == 0 and "seeded 400 fictional contacts" in seeded.output
    skipped = run("demo", "seed", "--contacts", "10", "--if-empty")
    assert "nothing seeded" in skipped.output
    listed = run("segments", "list", "--json")
    assert listed.exit_code == 0, listed.output
    counts = json.loads(listed.output)
    assert list(counts) == ["post_op", "athletes", "desk_workers", "general"]
    for name, entry in counts.items():
        assert 0 < entry["mailable"] <= entry["contacts"] < 400
        assert set(entry["overlap"]) == set(counts) - {name}
    assert counts["general"]["overlap"] == {"post_op": 0, "athletes": 0, "desk_workers": 0}
    assert counts["athletes"]["overlap"]["desk_workers"] > 0
    assert counts["post_op"]["sensitive"] is True and counts["post_op"]["code"] == "s5w2"
    table = run("segments", "list")
    assert table.exit_code == 0 and "desk_workers" in table.output


def test_content_relevance_by_slug_and_path(run, workspace_db):
    by_slug = run("content", "relevance", "massage-after-surgery", "--json")
    assert by_slug.exit_code == 0, by_slug.output
    results = json.loads(by_slug.output)
    assert set(results) == {"post_op", "athletes", "desk_workers", "general"}
    post_op = results["post_op"]
    assert set(post_op) == {"score", "matches", "paragraphs"}
    assert post_op["score"] > 0.5 and post_op["matches"]["surgery"] >= 1
    assert post_op["paragraphs"] and all(isinstance(i, int) for i in post_op["paragraphs"])
    path = workspace_db / "content" / "desk-work-neck-shoulders-back.md"
    text = run("content", "relevance", str(path))
    assert text.exit_code == 0 and "desk_workers" in text.output
    missing = run("content", "relevance", "no-such-article")
    assert missing.exit_code == 1 and "no article with the slug" in missing.output


def test_a_broken_segments_file_is_reported_with_its_line(run, workspace_db):
    segments_file = workspace_db / "campaigns" / "segments.yaml"
    segments_file.write_text(
        segments_file.read_text(encoding="utf-8").replace("code: s3q8", "code: desk"),
        encoding="utf-8",
    )
    result = run("segments", "list")
    assert result.exit_code == 1
    assert "campaigns/segments.yaml:" in result.output and "desk_workers" in result.output
