"""Comparing web addresses: a clicked link against the clinic's booking page, with click events
shaped as SendGrid posts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.store.events import booking_click, engagement_kinds
from pipeline.tracking import parse_event
from pipeline.urls import normalise_url, same_address

BOOKING = "https://harbourside-clinic.example/book"
EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "sendgrid" / "event_examples.json"


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://Clinic.EXAMPLE/Book", "https://clinic.example/Book"),
        ("HTTPS://clinic.example:443/book/", "https://clinic.example/book"),
        ("http://clinic.example:80", "http://clinic.example/"),
        ("http://clinic.example:8080/", "http://clinic.example:8080/"),
        ("https://clinic.example/book?utm_source=a&amp;utm_medium=email", "https://clinic.example/book"),
        ("https://clinic.example/book?b=2&amp;a=1&amp;UTM_Term=x", "https://clinic.example/book?a=1&b=2"),
        ("https://clinic.example/book#slots", "https://clinic.example/book"),
        ("  https://clinic.example/book  ", "https://clinic.example/book"),
        ("https://clinic.example:notaport/book", "https://clinic.example:notaport/book"),
    ],
)  # fmt: skip
def test_an_address_has_one_spelling(url, normalised):
    assert normalise_url(url) == normalised


@pytest.mark.parametrize(
    "clicked",
    [
        BOOKING + "?utm_source=clinicmail&amp;utm_medium=email&amp;utm_campaign=spring",
        "https://HARBOURSIDE-clinic.example:443/book/",
        BOOKING + "/?utm_content=s1a7",
        "https://harbourside-clinic.example/book#today",
    ],
)
def test_booking_page_recognised_however_the_link_was_written(clicked):
    assert booking_click(clicked, BOOKING)
    assert same_address(BOOKING + "?utm_source=x", clicked)


@pytest.mark.parametrize(
    "clicked",
    [
        BOOKING + "?service=massage",
        BOOKING + "?amp;utm_medium=email",
        "http://harbourside-clinic.example:8443/book",
        "https://harbourside-clinic.example/booking",
        "",
        None,
    ],
)
def test_other_pages_are_not_the_booking_page(clicked):
    assert not booking_click(clicked, BOOKING)


def _sendgrid_click(url: str) -> dict:
    """SendGrid's documented click event, with our custom_args flattened in as it does."""
    documented = json.loads(EXAMPLES.read_text())["all_event_types_example_post"]
    click = next(item for item in documented if item["event"] == "click")
    return {**click, "url": url, "send_id": "12", "sg_event_id": "click-1"}


def test_a_sendgrid_click_on_an_escaped_booking_link_counts_as_a_booking_click():
    event = parse_event(_sendgrid_click(BOOKING + "?utm_source=clinicmail&amp;utm_medium=email"), 0)
    assert engagement_kinds(event, BOOKING) == ("clicks", "booking_clicks")


def test_a_sendgrid_click_elsewhere_is_a_click_only():
    event = parse_event(_sendgrid_click("https://harbourside-clinic.example/articles/legs"), 0)
    assert engagement_kinds(event, BOOKING) == ("clicks",)
