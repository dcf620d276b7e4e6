"""check_rendered on hand-made variants: each check fires on its own problem, and the
health-data guardrails flag what a sensitive segment's mail must not show."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.checks import check_rendered
from pipeline.config import Settings
from pipeline.models import RenderedVariant, Segment, Topic
from pipeline.render.tokens import new_placeholders
from pipeline.segments.revealing import revealing_words

ADDRESS = "14 Quay Street, Bristol BS1 4XY"
POST_OP = Segment(
    name="post_op",
    label="Recovering from surgery",
    code="s5w2",
    sensitive=True,
    priority=30,
    rule=None,
    topics=(Topic("knee replacement", 3), Topic("swelling", 2)),
)
ATHLETES = Segment("athletes", "Athletes", "s1a7", False, 20, None, (Topic("running", 3),))


def make_settings(public_url: str = "https://mail.clinic.example", backend: str = "local"):
    return Settings.model_validate(
        {
            "workspace": Path("/nonexistent"),
            "clinic": {
                "name": "Harbourside Clinic",
                "postal_address": ADDRESS,
                "website": "https://clinic.example",
                "booking_url": "https://clinic.example/book",
            },
            "sender": {
                "name": "Harbourside Clinic",
                "email": "news@clinic.example",
                "unsubscribe_mailbox": "unsubscribe@clinic.example",
            },
            "web": {"public_url": public_url},
            "delivery": {"backend": backend},
            "database_url": "sqlite://",
            "secret_key": "unit-test-secret-key-0123456789",
        }
    )


def variant(
    *,
    subject: str = "Why we massage your legs",
    preheader: str = "Tight hamstrings pull on the pelvis",
    body: str = '<p>Read <a href="https://clinic.example/articles/legs?utm_content=s1a7">it</a></p>',
    footer: bool = True,
    campaign: str = "legs",
    segment: str = "athletes",
) -> RenderedVariant:
    tokens = new_placeholders()
    foot = (
        f'<p><a href="{tokens["unsubscribe_url"]}">Unsubscribe</a> '
        f'<a href="{tokens["preferences_url"]}">Preferences</a> {ADDRESS}</p>'
        if footer
        else ""
    )
    html = f'<html lang="en"><body><p>Hello {tokens["first_name"]},</p>{body}{foot}</body></html>'
    text = f"Hello {tokens['first_name']},\n" + (
        f"Unsubscribe: {tokens['unsubscribe_url']}\n{ADDRESS}\n" if footer else ""
    )
    return RenderedVariant(
        campaign=campaign,
        segment=segment,
        segment_code="s1a7",
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
        html_tokens={k: v for k, v in tokens.items() if v in html},
        text_tokens={k: v for k, v in tokens.items() if v in text},
    )


def checks(findings, level=None):
    return sorted({f.check for f in findings if level is None or f.level == level})


def test_a_clean_variant_has_no_findings():
    assert check_rendered(make_settings(), variant(), ATHLETES) == []


def test_too_large_html_is_an_error():
    body = "<p>" + "x" * (101 * 1024) + "</p>"
    findings = check_rendered(make_settings(), variant(body=body))
    assert checks(findings, "error") == ["size"]


@pytest.mark.parametrize(
    "href",
    [
        "http://clinic.example/articles/legs",
        "/articles/legs",
        "https://localhost/articles/legs",
        "https://127.0.0.1:8000/x",
        "https://192.168.1.10/x",
    ],
)
def test_links_must_be_absolute_https_and_public(href):
    findings = check_rendered(make_settings(), variant(body=f'<a href="{href}">x</a>'))
    assert checks(findings, "error") == ["links"]


def test_mailto_links_are_allowed():
    findings = check_rendered(
        make_settings(), variant(body='<a href="mailto:hi@clinic.example">x</a>')
    )
    assert findings == []


def test_a_development_public_url_warns_locally_and_blocks_real_sending():
    local = check_rendered(make_settings("http://127.0.0.1:8000"), variant())
    assert [(f.level, f.check) for f in local] == [("warning", "links")]
    real = check_rendered(make_settings("http://127.0.0.1:8000", backend="sendgrid"), variant())
    assert [(f.level, f.check) for f in real] == [("error", "links")]


def test_an_image_without_alt_text_is_an_error():
    body = (
        '<img src="https://clinic.example/a.png"><img src="https://clinic.example/b.png" alt="Hip">'
    )
    findings = check_rendered(make_settings(), variant(body=body))
    assert [f.message for f in findings] == ["image 'https://clinic.example/a.png' has no alt text"]


@pytest.mark.parametrize(
    "leftover",
    ["{{ article.title }}", "{% if x %}", "<mj-text>", "__cm0123456789abcdef01234567_first_name__"],
)
def test_template_syntax_or_tokens_left_over_are_errors(leftover):
    findings = check_rendered(make_settings(), variant(body=f"<p>{leftover}</p>"))
    assert checks(findings, "error") == ["tokens"]


@pytest.mark.parametrize("subject", ["", "x" * 79])
def test_subject_must_be_1_to_78_characters(subject):
    assert "subject" in checks(check_rendered(make_settings(), variant(subject=subject)), "error")


def test_a_missing_preheader_is_an_error():
    assert checks(check_rendered(make_settings(), variant(preheader=" ")), "error") == ["preheader"]


def test_missing_footer_is_an_error():
    findings = check_rendered(make_settings(), variant(footer=False))
    messages = [f.message for f in findings if f.check == "footer"]
    assert "the HTML part lacks the clinic's postal address" in messages
    assert "the text part has no unsubscribe link" in messages


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Life after surgery", ["surgery"]),
        ("Your post-op plan", ["post-op", "post_op"]),
        ("Your post op plan", ["post-op", "post_op"]),
        ("After your operation", ["operation"]),
        ("Old injuries and new ones", ["injury"]),
        ("What your diagnosis means", ["diagnosis"]),
        ("Knee replacements: the first weeks", ["knee replacement"]),
        ("Recovering from surgery", ["surgery", "Recovering from surgery"]),
        ("Glutes and sciatica", []),
        ("Operational notes", []),
    ],
)
def test_revealing_words_for_a_sensitive_segment(text, found):
    assert revealing_words(text, POST_OP) == found


def test_guardrails_flag_subject_and_preheader_of_a_sensitive_segment():
    rendered = variant(
        subject="Healing well after your knee replacement",
        preheader="What to expect after surgery",
        segment="post_op",
    )
    messages = [f.message for f in check_rendered(make_settings(), rendered, POST_OP)]
    assert any("subject" in m and "'knee replacement'" in m for m in messages)
    assert any("preheader" in m and "'surgery'" in m for m in messages)


def test_guardrails_flag_the_segment_name_in_a_link_or_header():
    rendered = variant(
        body='<a href="https://clinic.example/a?utm_content=post_op">x</a>',
        campaign="post-op-recovery",
        segment="post_op",
    )
    findings = [
        f for f in check_rendered(make_settings(), rendered, POST_OP) if f.check == "guardrails"
    ]
    assert {f.level for f in findings} == {"error"}
    assert any("X-Clinicmail-Campaign header" in f.message for f in findings)
    assert any("utm_content=post_op" in f.message for f in findings)


def test_a_condition_in_an_article_address_is_a_warning():
    rendered = variant(
        body='<a href="https://clinic.example/articles/massage-after-surgery">x</a>',
        segment="post_op",
    )
    findings = check_rendered(make_settings(), rendered, POST_OP)
    assert [(f.level, f.check) for f in findings] == [("warning", "guardrails")]


def test_the_same_words_are_not_flagged_for_a_segment_that_is_not_sensitive():
    rendered = variant(
        subject="Injury prevention for runners", preheader="Surgery is rarely needed"
    )
    assert check_rendered(make_settings(), rendered, ATHLETES) == []
