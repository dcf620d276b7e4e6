"""`clinicmail campaign plan|render|check` through click's CliRunner on both example campaigns,
on SQLite and PostgreSQL."""

from __future__ import annotations

import email.policy
import json
from dataclasses import replace
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from pipeline.campaigns import load_campaign_spec, spec_document
from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.models import Contact
from pipeline.store import open_engine, utcnow
from pipeline.store.contacts import add_contact
from pipeline.store.tables import campaigns

CAMPAIGNS = ("full-treatment-for-back-pain", "monthly-digest")


@pytest.fixture
def clinic(workspace_db: Path) -> Path:
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    with engine.begin() as conn:
        for email, tags in (
            ("runner@example.org", {"runner"}),
            ("desk@example.org", {"desk"}),
            ("both@example.org", {"runner", "desk"}),
            ("healing@example.org", {"post-op"}),
            ("anyone@example.org", set()),
        ):
            add_contact(
                conn,
                Contact(
                    email,
                    first_name="<b>{{ x }}</b>",
                    tags=frozenset(tags),
                    consent_status="subscribed",
                ),
            )
    engine.dispose()
    return workspace_db


def run(workspace: Path, *args: str):
    return CliRunner().invoke(main, ["--workspace", str(workspace), "campaign", *args])


@pytest.mark.parametrize("slug", CAMPAIGNS)
def test_plan_json_has_the_agreed_shape_and_counts_everyone_once(clinic, slug):
    result = run(clinic, "plan", slug, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["campaign"] == slug
    for variant in plan["variants"]:
        assert {
            "segment",
            "audience",
            "score",
            "matches",
            "subject",
            "preheader",
            "excerpt",
        } <= set(variant)
        assert variant["excerpt"] and all(isinstance(p, str) for p in variant["excerpt"])
        assert 1 <= len(variant["subject"]) <= 78
    assert sum(v["audience"] for v in plan["variants"]) == 5
    assert all(set(s) == {"segment", "reason"} for s in plan["skipped"])


def test_plan_text_lists_variants_and_skipped_segments(clinic):
    result = run(clinic, "plan", "full-treatment-for-back-pain")
    assert result.exit_code == 0, result.output
    assert "athletes" in result.stdout and "general" in result.stdout
    assert "skipped:\n  post_op: relevance 0.00 is below the threshold 0.30" in result.stdout


@pytest.mark.parametrize("slug", CAMPAIGNS)
def test_check_passes_both_examples_with_warnings_only(clinic, slug):
    result = run(clinic, "check", slug, "--json")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert findings and {f["level"] for f in findings} == {"warning"}
    # The development public_url, and (in the digest) an article address naming a condition.
    assert {f["check"] for f in findings} <= {"links", "guardrails"}
    assert all(set(f) == {"segment", "level", "check", "message"} for f in findings)


def test_check_exits_1_on_an_error(clinic):
    spec = clinic / "campaigns" / "full-treatment-for-back-pain.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "subject: Tight hamstrings and a sore back? Here is the link",
            "subject: Tight hamstrings {{ and }} a sore back",
        ),
        encoding="utf-8",
    )
    result = run(clinic, "check", "full-treatment-for-back-pain")
    assert result.exit_code == 1
    assert "tokens" in result.stdout and "2 errors" in result.stderr


@pytest.mark.parametrize("slug", CAMPAIGNS)
def test_render_writes_html_text_and_a_complete_eml_per_variant(clinic, tmp_path, slug):
    out = tmp_path / "preview"
    result = run(clinic, "render", slug, "--out", str(out))
    assert result.exit_code == 0, result.output
    segments = [
        json_variant["segment"]
        for json_variant in json.loads(run(clinic, "plan", slug, "--json").stdout)["variants"]
    ]
    assert sorted(path.name for path in out.iterdir()) == sorted(
        f"{segment}.{suffix}" for segment in segments for suffix in ("html", "txt", "eml")
    )
    message = BytesParser(policy=email.policy.default).parsebytes(
        (out / "general.eml").read_bytes()
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Clinicmail-Campaign"] == slug
    assert "Hello Alex," in (out / "general.txt").read_text(encoding="utf-8")


def test_render_for_a_contact_escapes_their_name_and_says_which_variant_they_get(clinic, tmp_path):
    out = tmp_path / "preview"
    result = run(
        clinic, "render", "full-treatment-for-back-pain", "--out", str(out),
        "--segment", "athletes", "--contact", "both@example.org",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "both@example.org gets the 'desk_workers' variant" in result.stdout
    assert [path.name for path in sorted(out.iterdir())] == [
        "athletes.eml", "athletes.html", "athletes.txt",
    ]  # fmt: skip
    html = (out / "athletes.html").read_text(encoding="utf-8")
    assert "Hello &lt;b&gt;{{ x }}&lt;/b&gt;," in html
    assert "Hello <b>{{ x }}</b>," in (out / "athletes.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plan", "nope"), "no campaign 'nope'"),
        (
            ("render", "monthly-digest", "--out", "x", "--segment", "golfers"),
            "no variant for segment 'golfers'",
        ),
        (
            ("render", "monthly-digest", "--out", "x", "--contact", "who@example.org"),
            "who@example.org",
        ),
    ],
)
def test_mistakes_are_one_line_on_stderr_with_exit_code_1(clinic, tmp_path, args, message):
    result = run(clinic, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_broken_campaign_file_is_reported_with_its_line(clinic):
    (clinic / "campaigns" / "broken.yaml").write_text(
        "name: X\narticle: a\ntemplate: nope\n", encoding="utf-8"
    )
    result = run(clinic, "plan", "broken")
    assert result.exit_code == 1
    assert "campaigns/broken.yaml:3: template: no template 'nope'" in result.stderr


def test_a_campaign_made_in_the_web_app_is_planned_from_its_row(clinic):
    settings = load_settings(clinic)
    spec = load_campaign_spec(
        settings.workspace, "full-treatment-for-back-pain", settings.clinic.zone
    )
    made_in_browser = replace(spec, slug="web-made", source_path=None, segments=("athletes",))
    engine = open_engine(settings.database_url)
    with engine.begin() as conn:
        now = utcnow()
        conn.execute(
            insert(campaigns).values(
                slug="web-made", name="Made in the browser", origin="web",
                spec=spec_document(made_in_browser), spec_hash="0" * 64, state="draft",
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    engine.dispose()
    result = run(clinic, "plan", "web-made", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["campaign"] == "web-made"
    assert [v["segment"] for v in plan["variants"]] == ["athletes"]
