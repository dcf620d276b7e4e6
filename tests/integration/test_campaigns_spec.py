"""Campaign files: the two examples load, and every mistake names the file, the line and the
key (local times that a DST change skips or repeats included)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.campaigns import (
    load_campaign_spec,
    load_campaign_specs,
    spec_document,
    spec_from_document,
)
from pipeline.errors import NotFoundError, SpecError

LONDON = ZoneInfo("Europe/London")


def write(workspace: Path, slug: str, text: str) -> None:
    (workspace / "campaigns" / f"{slug}.yaml").write_text(text, encoding="utf-8")


def test_the_example_campaigns_load(workspace):
    specs = {spec.slug: spec for spec in load_campaign_specs(workspace, LONDON)}
    single = specs["full-treatment-for-back-pain"]
    assert single.article == "full-treatment-for-back-pain"
    assert single.template == "single" and single.segments == "all"
    assert single.send_at == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert single.overrides["athletes"].subject.startswith("Tight hamstrings")
    digest = specs["monthly-digest"]
    assert digest.digest_latest == 4 and digest.article is None
    assert digest.cron == "0 9 1 * *" and digest.template == "digest"


def test_spec_document_round_trips(workspace):
    for spec in load_campaign_specs(workspace, LONDON):
        assert spec_from_document(spec_document(spec)) == spec


def test_send_at_is_the_clinics_local_time(workspace):
    write(workspace, "summer", "name: S\narticle: a\ntemplate: single\nsend_at: 2026-07-01 09:00\n")
    spec = load_campaign_spec(workspace, "summer", LONDON)
    assert spec.send_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("name: X\narticle: a\ntemplate: single\ncolour: red\n", 4, "colour: unknown key"),
        ("article: a\ntemplate: single\n", 1, "name: is required"),
        ("name: X\narticle: a\ntemplate: fancy\n", 3, "no template 'fancy'"),
        ("name: X\ntemplate: single\n", 1, "exactly one of"),
        ("name: X\narticle: a\ndigest: {latest: 3}\ntemplate: single\n", 2, "exactly one of"),
        ("name: X\ndigest: {latest: 0}\ntemplate: digest\n", 2, "digest.latest"),
        (
            "name: X\narticle: a\ntemplate: single\nsegments:\n  - athletes\n  - golfers\n",
            6,
            "unknown segment 'golfers'",
        ),
        (
            "name: X\narticle: a\ntemplate: single\nsegments: [athletes]\n"
            "overrides:\n  desk_workers:\n    subject: Hi\n",
            6,
            "not a segment this campaign targets",
        ),
        (
            "name: X\narticle: a\ntemplate: single\noverrides:\n  athletes:\n    tagline: Hi\n",
            6,
            "overrides.athletes.tagline: unknown key",
        ),
        (
            "name: X\narticle: a\ntemplate: single\noverrides:\n  athletes:\n    excerpt: [0]\n",
            6,
            "counting from 1",
        ),
        (
            "name: X\narticle: a\ntemplate: single\nsend_at: 2026-03-29 01:30\n",
            4,
            "2026-03-29 01:30:00 Europe/London does not exist",
        ),
        (
            "name: X\narticle: a\ntemplate: single\nsend_at: '2026-10-25 01:30'\n",
            4,
            "2026-10-25 01:30:00 Europe/London is ambiguous",
        ),
        ("name: X\narticle: a\ntemplate: single\nsend_at: tomorrow\n", 4, "send_at"),
        ("name: X\narticle: a\ntemplate: single\ncron: every day\n", 4, "not a cron expression"),
        (
            "name: X\narticle: a\ntemplate: single\nsend_at: '2026-12-01 09:00'\ncron: 0 9 * * *\n",
            5,
            "not both",
        ),
        ("name: X\narticle: a\ntemplate: single\nthreshold: 2\n", 4, "threshold"),
        ("name: X\narticle: a\ntemplate: single\nutm: {campaign: 'a b'}\n", 4, "utm.campaign"),
        ("name: X\nname: Y\narticle: a\ntemplate: single\n", 2, "appears twice"),
        ("name: [unclosed\n", 2, "not valid YAML"),
    ],
)
def test_mistakes_name_the_file_line_and_key(workspace, body, line, words):
    write(workspace, "broken", body)
    with pytest.raises(SpecError) as caught:
        load_campaign_spec(workspace, "broken", LONDON)
    assert caught.value.path == "campaigns/broken.yaml"
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"campaigns/broken.yaml:{line}: ")


def test_an_unknown_campaign_lists_the_known_ones(workspace):
    with pytest.raises(NotFoundError, match="full-treatment-for-back-pain, monthly-digest"):
        load_campaign_spec(workspace, "nope", LONDON)
