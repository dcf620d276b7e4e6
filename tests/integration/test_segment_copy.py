"""Every shipped campaign rendered for every segment reads as written for it: excerpts that
stand alone, no sentence read twice, subjects that fit a phone, a preheader followed by filler,
SpamAssassin's local rules content, and segments with their own subjects and intros."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import pytest

from pipeline.campaigns import campaign_files
from pipeline.campaigns.copy import SUBJECT_TARGET
from pipeline.campaigns.loading import plan_by_slug
from pipeline.campaigns.review import plan_document, review_campaign
from pipeline.checks import preview_recipient
from pipeline.config import load_settings
from pipeline.content import sync_content
from pipeline.content.excerpt import opens_with_back_reference, sentence_keys
from pipeline.render.message import mime_bytes, personalise
from pipeline.store import open_engine, upgrade
from tests.conftest import REPO

# SpamAssassin's local rules (no network tests) must score every email below this.
SPAM_LIMIT = 0.5
_SCORE = re.compile(r"^Content analysis details:\s+\((-?[0-9.]+) points", re.M)
_FILLER = "&#847;&zwnj;&nbsp;"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """The sample workspace on its own SQLite database, every campaign file planned once."""
    root = tmp_path_factory.mktemp("copy") / "clinic"
    root.mkdir()
    shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
    for folder in ("content", "campaigns", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("CLINICMAIL_WORKSPACE", "CLINICMAIL_DATABASE_URL", "SENDGRID_API_KEY"):
            patch.delenv(variable, raising=False)
        patch.setenv("CLINICMAIL_SECRET_KEY", "test-secret-key-not-for-production")
        settings = load_settings(root)
        engine = open_engine(settings.database_url)
        upgrade(engine)
        sync_content(engine, settings)
        with engine.connect() as conn:
            plans = {
                path.stem: (
                    plan_by_slug(conn, settings, path.stem, settings.segments),
                    settings.segments,
                )
                for path in campaign_files(root)
            }
        engine.dispose()
        yield settings, plans


def rendered_messages(settings, plans):
    for slug, (plan, segments) in plans.items():
        variants = {variant.segment: variant for variant in plan.variants}
        for rendered in review_campaign(settings, plan, segments).rendered.values():
            message = personalise(rendered, preview_recipient(settings), settings)
            yield slug, variants[rendered.segment], rendered, message


def test_every_shipped_campaign_has_a_variant_per_fitting_segment(clinic) -> None:
    _, plans = clinic
    assert set(plans) == {"full-treatment-for-back-pain", "monthly-digest"}
    for plan, _ in plans.values():
        assert len(plan.variants) >= 3


def test_no_excerpt_paragraph_opens_with_a_back_reference(clinic) -> None:
    _, plans = clinic
    for slug, (plan, _) in plans.items():
        for variant in plan.variants:
            for paragraph in variant.excerpt:
                assert not opens_with_back_reference(paragraph), (slug, variant.segment, paragraph)


def test_no_sentence_is_read_twice_across_preheader_intro_and_excerpt(clinic) -> None:
    _, plans = clinic
    for slug, (plan, _) in plans.items():
        for variant in plan.variants:
            parts = [variant.preheader, variant.intro, *variant.excerpt]
            seen: set[str] = set()
            for part in parts:
                keys = sentence_keys([part])
                assert not keys & seen, (slug, variant.segment, keys & seen)
                seen |= keys


def test_every_subject_fits_a_phone(clinic) -> None:
    _, plans = clinic
    for plan, _ in plans.values():
        for variant in plan.variants:
            assert 1 <= len(variant.subject) <= SUBJECT_TARGET, variant.subject


def test_the_preheader_opens_both_parts_and_filler_follows_it(clinic) -> None:
    settings, plans = clinic
    for slug, variant, _, message in rendered_messages(settings, plans):
        hidden = re.search(
            r'<div class="cm-preheader" style="([^"]*)">(.*?)</div>', message.html, re.S
        )
        assert hidden, (slug, variant.segment)
        style, content = hidden.groups()
        assert "display:none" in style and "color" not in style
        hook, filler = content.split("\n", 1)
        assert html.unescape(hook) == variant.preheader
        assert filler.replace("\n", "") == _FILLER * (filler.count(_FILLER)) != ""
        assert filler.count(_FILLER) >= 100
        assert message.text.splitlines()[0] == variant.preheader
        assert message.text.splitlines()[1] == ""
        assert not message.text.splitlines()[4].isupper()


def test_segments_get_their_own_subjects_and_intros(clinic) -> None:
    _, plans = clinic
    for slug, (plan, _) in plans.items():
        document = plan_document(plan)
        subjects = [variant["subject"] for variant in document["variants"]]
        intros = [variant["intro"] for variant in document["variants"]]
        assert len(set(subjects)) == len(subjects), (slug, subjects)
        assert len(set(intros)) == len(intros), (slug, intros)


def test_no_two_segments_read_the_same(clinic) -> None:
    settings, plans = clinic
    for plan, segments in plans.values():
        tailoring = [
            f for f in review_campaign(settings, plan, segments).findings if f.check == "tailoring"
        ]
        assert tailoring == []


def spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found:
        return found
    reason = "spamassassin is not installed (make test installs it: tests/ensure_spamassassin.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def test_spamassassin_local_rules_score_every_email_below_half_a_point(clinic) -> None:
    command = spamassassin()
    settings, plans = clinic
    for slug, variant, _, message in rendered_messages(settings, plans):
        result = subprocess.run(
            [command, "-L", "-t"],
            input=mime_bytes(message, settings),
            capture_output=True,
            timeout=120,
            check=True,
        )
        report = result.stdout.decode("utf-8", "replace")
        score = float(_SCORE.search(report).group(1))
        assert score < SPAM_LIMIT, (
            slug,
            variant.segment,
            report[report.find("Content analysis") :],
        )
