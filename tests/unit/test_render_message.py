"""Recipient tokens, personalisation and the MIME message, without templates or a database."""

from __future__ import annotations

import email.policy
from dataclasses import replace
from email.parser import BytesParser
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.models import Recipient, RenderedVariant
from pipeline.render.compile import fold_long_lines
from pipeline.render.message import (
    list_unsubscribe_headers,
    mime_bytes,
    mime_message,
    personalise,
    recipient_values,
)
from pipeline.render.tokens import fill_html, fill_tokens, new_placeholders
from pipeline.tracking import read_token

SECRET = "unit-test-secret-key-0123456789"


def make_settings(**sender) -> Settings:
    return Settings.model_validate(
        {
            "workspace": Path("/nonexistent"),
            "clinic": {
                "name": "Harbourside Massage & Physiotherapy",
                "postal_address": "14 Quay Street, Bristol BS1 4XY",
                "website": "https://clinic.example",
                "booking_url": "https://clinic.example/book",
            },
            "sender": {
                "name": "Harbourside Clinic",
                "email": "news@clinic.example",
                "reply_to": "hello@clinic.example",
                **sender,
            },
            "web": {"public_url": "https://mail.clinic.example"},
            "database_url": "sqlite://",
            "secret_key": SECRET,
        }
    )


def rendered_variant(subject: str = "Why we massage your legs") -> RenderedVariant:
    tokens = new_placeholders()
    html = (
        f"<p>Hello {tokens['first_name']},</p>"
        f"<p>Article text: {{{{ first_name }}}} and __cm_first_name__ stay as they are.</p>"
        f'<a href="{tokens["unsubscribe_url"]}">Unsubscribe</a>'
        f'<a href="{tokens["view_url"]}">View</a>'
    )
    text = f"Hello {tokens['first_name']},\nUnsubscribe: {tokens['unsubscribe_url']}\n"
    return RenderedVariant(
        campaign="legs-for-back-pain",
        segment="athletes",
        segment_code="s-7f3a",
        subject=subject,
        preheader="Tight hamstrings pull on the pelvis",
        html=html,
        text=text,
        html_tokens={name: tokens[name] for name in ("first_name", "unsubscribe_url", "view_url")},
        text_tokens={name: tokens[name] for name in ("first_name", "unsubscribe_url")},
    )


def recipient(first_name: str, send_id: int = 41) -> Recipient:
    settings = make_settings(unsubscribe_mailbox="unsubscribe@mail.clinic.example")
    return Recipient(
        send_id,
        "client@example.org",
        recipient_values(settings, 7, "client@example.org", first_name, send_id),
    )


def test_placeholders_carry_a_fresh_nonce_each_render():
    first, second = new_placeholders(), new_placeholders()
    assert set(first) == {"first_name", "unsubscribe_url", "preferences_url", "view_url"}
    assert first["first_name"] != second["first_name"]


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("{{ x }}", "{{ x }}"),
        ('Ann "A&B" O\'Neil', "Ann &quot;A&amp;B&quot; O&#x27;Neil"),
    ],
)
def test_first_name_is_html_escaped_in_html_and_left_as_text_in_text(name, escaped):
    message = personalise(rendered_variant(), recipient(name), make_settings())
    assert "<script>" not in message.html
    assert f"Hello {escaped}," in message.html
    assert f"Hello {name}," in message.text


def test_article_text_that_looks_like_a_token_is_never_filled():
    message = personalise(rendered_variant(), recipient("Ann"), make_settings())
    assert "{{ first_name }} and __cm_first_name__ stay as they are" in message.html


def test_a_placeholder_from_another_render_is_not_filled():
    other = new_placeholders()["first_name"]
    ours = new_placeholders()
    text = f"{ours['first_name']} / {other}"
    assert fill_tokens(text, ours, {"first_name": "Ann"}) == f"Ann / {other}"


def test_a_missing_value_names_the_token():
    tokens = new_placeholders()
    with pytest.raises(ValueError, match="view_url"):
        fill_html(tokens["view_url"], tokens, {"first_name": "Ann"})


def test_recipient_values_are_signed_links_under_the_public_url():
    settings = make_settings()
    values = recipient_values(settings, 7, "Client@Example.org", "  ", 41)
    assert values["first_name"] == "there"
    for key, prefix, purpose in (
        ("unsubscribe_url", "/u/", "unsubscribe"),
        ("preferences_url", "/p/", "preferences"),
        ("view_url", "/v/", "view"),
    ):
        assert values[key].startswith("https://mail.clinic.example" + prefix)
        payload = read_token(SECRET, purpose, values[key].rsplit("/", 1)[1])
        assert payload["c"] == 7 and payload["s"] == 41
        assert "client" not in values[key].lower()


def test_list_unsubscribe_has_https_and_mailto_with_the_token_when_a_mailbox_is_set():
    with_mailbox = make_settings(unsubscribe_mailbox="unsubscribe@mail.clinic.example")
    values = recipient_values(with_mailbox, 7, "client@example.org", "Ann", 41)
    headers = list_unsubscribe_headers(with_mailbox, values)
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https == f"<{values['unsubscribe_url']}>"
    assert mailto == (
        f"<mailto:unsubscribe@mail.clinic.example?subject=unsubscribe-{values['unsubscribe_token']}>"
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    without = list_unsubscribe_headers(make_settings(), values)
    assert without["List-Unsubscribe"] == f"<{values['unsubscribe_url']}>"


@pytest.mark.parametrize(
    ("token", "subject"),
    [("MTIz.abc_DEF-9~/", "unsubscribe-MTIz.abc_DEF-9~/"), ("a b&c?", "unsubscribe-a%20b%26c%3F")],
)
def test_the_mailto_subject_is_url_quoted_exactly_when_quoting_changes_it(
    token: str, subject: str
) -> None:
    with_mailbox = make_settings(unsubscribe_mailbox="unsubscribe@mail.clinic.example")
    values = {"unsubscribe_url": "https://c.example/u/x", "unsubscribe_token": token}
    mailto = list_unsubscribe_headers(with_mailbox, values)["List-Unsubscribe"].split(", ")[1]
    assert mailto == f"<mailto:unsubscribe@mail.clinic.example?subject={subject}>"


def test_mime_message_is_complete_and_parses_without_defects():
    settings = make_settings(unsubscribe_mailbox="unsubscribe@mail.clinic.example")
    message = personalise(
        rendered_variant("Légs & back: what helps — ünd more"), recipient("Zoë"), settings
    )
    parsed = mime_message(message, settings)
    assert parsed.get_content_type() == "multipart/alternative"
    assert not parsed.defects and all(not part.defects for part in parsed.walk())
    assert parsed["From"] == "Harbourside Clinic <news@clinic.example>"
    assert parsed["Reply-To"] == "hello@clinic.example"
    assert parsed["To"] == "client@example.org"
    assert parsed["Subject"] == "Légs & back: what helps — ünd more"
    assert parsed["Message-ID"].endswith("@clinic.example>")
    assert parsed["Date"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Unsubscribe"].startswith("<https://mail.clinic.example/u/")
    assert parsed["X-Clinicmail-Campaign"] == "legs-for-back-pain"
    assert parsed["X-Clinicmail-Send-Id"] == "41"
    text_part, html_part = parsed.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert text_part.get_content_charset() == html_part.get_content_charset() == "utf-8"
    assert "Hello Zoë," in text_part.get_content()
    assert "Hello Zo&#235;," in html_part.get_content()  # the same text, as HTML says it
    assert html_part["Content-Transfer-Encoding"] == "7bit"


def test_html_with_a_line_too_long_for_smtp_travels_as_base64():
    settings = make_settings()
    long_line = replace(rendered_variant(), html="<p>" + "é" * 1200 + "</p>", html_tokens={})
    parsed = mime_message(personalise(long_line, recipient("Ann"), settings), settings)
    html_part = parsed.get_body(("html",))
    assert html_part["Content-Transfer-Encoding"] == "base64"
    assert html_part.get_content() == "<p>" + "é" * 1200 + "</p>"


def test_text_that_is_not_ascii_travels_as_base64():
    settings = make_settings()
    parsed = mime_message(personalise(rendered_variant(), recipient("Zoë"), settings), settings)
    text_part = parsed.get_body(("plain",))
    assert text_part["Content-Transfer-Encoding"] == "base64"
    ascii_only = mime_message(personalise(rendered_variant(), recipient("Ann"), settings), settings)
    assert ascii_only.get_body(("plain",))["Content-Transfer-Encoding"] == "7bit"


def test_mime_bytes_use_crlf_and_short_lines():
    settings = make_settings(unsubscribe_mailbox="unsubscribe@mail.clinic.example")
    raw = mime_bytes(personalise(rendered_variant(), recipient("Ann"), settings), settings)
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 998
    again = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert again.get_body(("html",)).get_content().startswith("<p>Hello Ann,</p>")


def test_a_header_value_with_a_line_break_is_refused():
    settings = make_settings()
    message = personalise(
        rendered_variant("Hello\r\nBcc: someone@example.org"), recipient("Ann"), settings
    )
    with pytest.raises(ValueError, match="line break"):
        mime_bytes(message, settings)


def test_long_html_lines_are_folded_before_block_tags_only():
    cells = "".join(f'<tr><td style="padding:0">cell {n}</td></tr>' for n in range(80))
    html = f"<table>{cells}</table><p>{'word ' * 300}</p>"
    folded = fold_long_lines(html, 200)
    assert folded.replace("\n", "") == html
    assert max(len(line) for line in folded.splitlines()) <= 200
    for line in folded.splitlines()[1:]:
        assert line.startswith(("<tr", "<td", "</td", "</tr", "</table", "<p", "</p", " ", "word"))


def test_a_line_with_nowhere_to_fold_is_left_whole():
    assert fold_long_lines("x" * 900, 200) == "x" * 900
