"""The email templates: compiled with mrml (includes kept inside templates/), the official MJML
validator at strict level on every template, and what a client's email must carry."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.content import ClinicLinks, parse_path
from pipeline.errors import TemplateError
from pipeline.models import Recipient, Utm, Variant
from pipeline.render.compile import render_mjml, render_variant, template_context, template_names
from pipeline.render.message import personalise
from pipeline.render.tokens import new_placeholders
from pipeline.report import build_weekly_report, report_context
from pipeline.store import open_engine, upgrade
from tests.conftest import REPO

MJML = REPO / "node_modules" / "mjml"
# Strict validation of each document; mj-include paths resolve from the templates folder.
VALIDATE_JS = """
const mjml2html = require(process.argv[1]);
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const results = {};
for (const [name, source] of Object.entries(input.documents)) {
  try {
    const out = mjml2html(source, {validationLevel: 'strict', filePath: input.folder});
    results[name] = out.errors.map((e) => e.formattedMessage || e.message);
  } catch (error) {
    results[name] = (error.details || [error]).map((e) => e.formattedMessage || e.message);
  }
}
process.stdout.write(JSON.stringify(results));
"""


def mjml_validator() -> Path:
    if MJML.is_dir() and shutil.which("node"):
        return MJML
    reason = "the MJML validator is not installed (run `npm ci` at the repository root)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def variant(segment="athletes", code="s1a7", articles=()) -> Variant:
    return Variant(
        campaign="spring-news",
        segment=segment,
        segment_code=code,
        subject="Why we massage your legs",
        preheader="Tight hamstrings pull on the pelvis",
        intro="Training hard loads your hamstrings.",
        excerpt=("The first paragraph & more.", "The second <paragraph>."),
        score=0.8,
        matches={"hamstring": 2},
        articles=articles,
    )


@pytest.fixture
def settings(workspace):
    return load_settings(workspace)


@pytest.fixture
def articles(settings):
    links = ClinicLinks.from_settings(settings)
    return [
        article
        for path in sorted((settings.workspace / "content").glob("*.md"))
        for article in parse_path(path, links)
    ]


def sample_contexts(settings, articles) -> dict[str, dict]:
    """A realistic context for every template in templates/: campaign templates get the one
    render_variant gives them; the owner's report gets the one its module builds."""
    contexts = {
        name: template_context(settings, variant(), articles, new_placeholders(), Utm())
        for name in template_names(settings.workspace / "templates")
    }
    engine = open_engine(settings.database_url)
    upgrade(engine)
    contexts["report"] = report_context(
        build_weekly_report(engine, settings), settings, "cid:chart"
    )
    engine.dispose()
    return contexts


def top_level_templates(settings) -> list[str]:
    templates = settings.workspace / "templates"
    return sorted(
        path.name.removesuffix(".mjml.j2")
        for path in templates.glob("*.mjml.j2")
        if path.name != "layout.mjml.j2"
    )


def test_every_template_passes_the_official_mjml_validator_at_strict_level(settings, articles):
    validator = mjml_validator()
    contexts = sample_contexts(settings, articles)
    names = top_level_templates(settings)
    missing = [name for name in names if name not in contexts]
    assert not missing, f"no sample context for template(s) {missing}: add one to this test"
    documents = {name: render_mjml(settings, name, contexts[name]) for name in names}
    result = subprocess.run(
        ["node", "-e", VALIDATE_JS, str(validator)],
        input=json.dumps({"documents": documents, "folder": str(settings.workspace / "templates")}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(result.stdout) == {name: [] for name in names}


def test_the_validator_does_catch_invalid_mjml(settings):
    validator = mjml_validator()
    broken = (
        '<mjml><mj-body><mj-section><mj-text color="blue">x</mj-text></mj-section></mj-body></mjml>'
    )
    result = subprocess.run(
        ["node", "-e", VALIDATE_JS, str(validator)],
        input=json.dumps(
            {"documents": {"broken": broken}, "folder": str(settings.workspace / "templates")}
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(result.stdout)["broken"], "strict validation let a misplaced mj-text through"


def test_single_article_email_carries_everything_a_client_needs(settings, articles):
    lead = articles[0]
    rendered = render_variant(settings, variant(articles=(lead.slug,)), [lead], "single")
    html = rendered.html
    assert '<html lang="en"' in html
    assert "Tight hamstrings pull on the pelvis" in html  # the preheader
    assert "max-width:479px" in html or "min-width:480px" in html  # one column under 480 px
    assert "prefers-color-scheme: dark" in html and 'name="color-scheme"' in html
    assert f'alt="{settings.clinic.name}"' in html.replace("&amp;", "&")  # the logo
    assert ("<h1" in html and lead.title.replace("'", "&#39;") in html) or lead.title in html
    assert "The second &lt;paragraph&gt;." in html  # article text is escaped, never markup
    assert "Read the full article" in html and "Book an appointment" in html
    assert settings.clinic.postal_address in html
    assert "utm_content=s1a7" in html and "athletes" not in html
    assert set(rendered.html_tokens) == {
        "first_name",
        "unsubscribe_url",
        "preferences_url",
        "view_url",
    }
    assert set(rendered.text_tokens) == {
        "first_name",
        "unsubscribe_url",
        "preferences_url",
        "view_url",
    }
    assert "Read the full article: https://" in rendered.text
    assert settings.clinic.postal_address in rendered.text


def test_digest_has_a_card_per_article_in_the_variants_order(settings, articles):
    order = tuple(article.slug for article in reversed(articles))
    rendered = render_variant(settings, variant(articles=order), articles, "digest")
    positions = [rendered.html.index(f"articles/{slug}?") for slug in order]
    assert positions == sorted(positions)
    assert rendered.html.count("<h2") == len(articles)
    assert rendered.text.count("Read it: https://") == len(articles)


def test_each_render_makes_new_placeholders(settings, articles):
    first = render_variant(settings, variant(), articles[:1], "single")
    second = render_variant(settings, variant(), articles[:1], "single")
    assert first.html_tokens["first_name"] != second.html_tokens["first_name"]


def test_token_lookalikes_in_article_text_stay_text(settings, articles):
    tricky = replace(variant(), excerpt=("{{ token.first_name }} __cm_first_name__",))
    rendered = render_variant(settings, tricky, articles[:1], "single")
    values = {
        "first_name": "<b>Sam</b>",
        "unsubscribe_url": "https://x.example/u/t",
        "preferences_url": "https://x.example/p/t",
        "view_url": "https://x.example/v/t",
    }
    message = personalise(rendered, Recipient(1, "sam@example.org", values), settings)
    assert "{{ token.first_name }} __cm_first_name__" in message.html
    assert "Hello &lt;b&gt;Sam&lt;/b&gt;," in message.html
    assert "Hello <b>Sam</b>," in message.text


def write_template(settings, name: str, body: str) -> None:
    templates = settings.workspace / "templates"
    (templates / f"{name}.mjml.j2").write_text(body, encoding="utf-8")
    (templates / f"{name}.txt.j2").write_text("x", encoding="utf-8")


@pytest.mark.parametrize(
    "include",
    ['<mj-include path="../clinic.toml" />', '<mj-include path="/etc/hostname" />'],
)
def test_mjml_includes_stay_inside_templates(settings, articles, include):
    write_template(
        settings,
        "escape",
        "<mjml><mj-body><mj-section><mj-column>"
        + include
        + "</mj-column></mj-section></mj-body></mjml>",
    )
    with pytest.raises(TemplateError, match="MJML does not compile"):
        render_variant(settings, variant(), articles[:1], "escape")


def test_jinja_includes_stay_inside_templates(settings, articles):
    write_template(settings, "escape", '{% include "../clinic.toml" %}')
    with pytest.raises(TemplateError, match="no template"):
        render_variant(settings, variant(), articles[:1], "escape")


def test_an_undefined_name_is_an_error_naming_the_template(settings, articles):
    write_template(settings, "typo", "<mjml><mj-body>{{ clinic.nmae }}</mj-body></mjml>")
    with pytest.raises(TemplateError, match=re.escape("typo.mjml.j2")):
        render_variant(settings, variant(), articles[:1], "typo")


def test_a_syntax_error_names_the_file_and_line(settings, articles):
    write_template(settings, "broken", "<mjml>\n<mj-body>\n{% if %}\n</mj-body></mjml>")
    with pytest.raises(TemplateError) as caught:
        render_variant(settings, variant(), articles[:1], "broken")
    assert caught.value.line == 3 and caught.value.path.endswith("broken.mjml.j2")
