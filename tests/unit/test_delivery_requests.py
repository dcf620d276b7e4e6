"""Pure parts of delivery: Retry-After arithmetic, substitution maps, the local server's request
checks, what SendGrid substitution does, and which events an accepted request causes."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.delivery.sendgrid import (
    _RequestText,
    names_needing_escape,
    retry_after_seconds,
    substitutions_for,
    text_with_own_placeholders,
)
from pipeline.devserver.events import DemoRates, request_events, sign_webhook
from pipeline.devserver.mailstore import apply_substitutions, public_key_b64
from pipeline.devserver.validation import validation_errors
from pipeline.errors import DeliveryError
from pipeline.models import Recipient, RenderedVariant
from pipeline.tracking import SIMULATED_FIELD, verify_webhook

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        (
            {"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)},
            30.0,
        ),
        ({"X-RateLimit-Reset": str(int(NOW) + 12)}, 12.0),
        ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),
        ({"Retry-After": "soon", "X-RateLimit-Reset": str(int(NOW) + 3)}, 3.0),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


def _variant(
    html_tokens: dict[str, str], text_tokens: dict[str, str], text: str
) -> RenderedVariant:
    return RenderedVariant(
        campaign="c",
        segment="s",
        segment_code="x1",
        subject="Subject",
        preheader="",
        html="<p>Hi " + html_tokens.get("first_name", "") + "</p>",
        text=text,
        html_tokens=html_tokens,
        text_tokens=text_tokens,
    )


def test_a_value_escaping_changes_gets_its_own_text_placeholder() -> None:
    shared = {"first_name": "__cmN_first_name__"}
    variant = _variant(shared, shared, "Hi __cmN_first_name__, again __cmN_first_name__")
    people = [
        Recipient(1, "a@example.com", {"first_name": 'Ann "<O\'Neil>"'}),
        Recipient(2, "b@example.com", {"first_name": "Bea"}),
    ]
    text, own = text_with_own_placeholders(variant, people)
    assert own["first_name"] != shared["first_name"]
    assert shared["first_name"] not in text and text.count(own["first_name"]) == 2
    substitutions = substitutions_for(variant.html_tokens, own, people[0])
    assert substitutions[shared["first_name"]] == "Ann &quot;&lt;O&#x27;Neil&gt;&quot;"
    assert substitutions[own["first_name"]] == 'Ann "<O\'Neil>"'
    assert apply_substitutions(text, substitutions) == 'Hi Ann "<O\'Neil>", again Ann "<O\'Neil>"'


def test_values_that_read_the_same_escaped_share_the_html_placeholder() -> None:
    """Links and plain names need one substitution for both parts: a smaller request."""
    html_tokens = {"first_name": "__cmH_first_name__", "view_url": "__cmH_view_url__"}
    text_tokens = {"first_name": "__cmT_first_name__", "view_url": "__cmT_view_url__"}
    variant = _variant(html_tokens, text_tokens, "Hi __cmT_first_name__: __cmT_view_url__")
    person = Recipient(
        1, "a@example.com", {"first_name": "Zoë", "view_url": "https://c.example/v/x"}
    )
    text, own = text_with_own_placeholders(variant, [person])
    assert own == {}
    assert text == "Hi __cmH_first_name__: __cmH_view_url__"
    substitutions = substitutions_for(variant.html_tokens, own, person)
    assert apply_substitutions(text, substitutions) == "Hi Zoë: https://c.example/v/x"
    assert len(substitutions) == 2


def test_only_names_some_value_of_which_escaping_changes_need_escaping() -> None:
    people = [
        Recipient(
            1, "a@example.com", {"first_name": "O'Brien", "view_url": "https://c.example/v/x"}
        ),
        Recipient(2, "b@example.com", {"first_name": "Bea", "view_url": "https://c.example/v/y"}),
    ]
    assert names_needing_escape(["first_name", "view_url"], people) == {"first_name"}
    assert names_needing_escape(["first_name", "view_url"], people[1:]) == frozenset()


def test_substitutions_escape_just_the_names_asked_and_agree_with_escaping_all() -> None:
    html_tokens = {"first_name": "__h_first_name__", "view_url": "__h_view_url__"}
    person = Recipient(
        1, "a@example.com", {"first_name": "<Ann>", "view_url": "https://c.example/v/x"}
    )
    chosen = substitutions_for(html_tokens, {}, person, frozenset({"first_name"}))
    assert chosen == substitutions_for(html_tokens, {}, person)
    assert chosen == {"__h_first_name__": "&lt;Ann&gt;", "__h_view_url__": "https://c.example/v/x"}


def test_a_missing_token_value_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match="send 4: no value for the html token 'first_name'"):
        substitutions_for({"first_name": "__x__"}, {}, Recipient(4, "a@example.com", {}))


def test_apply_substitutions_prefers_the_longest_key() -> None:
    assert apply_substitutions("-ab-a-", {"a": "1", "ab": "2"}) == "-2-1-"


def _body(*emails: str) -> dict:
    return {
        "personalizations": [
            {"to": [{"email": email}], "custom_args": {"send_id": str(n)}}
            for n, email in enumerate(emails, start=1)
        ],
        "from": {"email": "news@clinic.example"},
        "subject": "Hello",
        "content": [
            {
                "type": "text/html",
                "value": '<a href="https://clinic.example/book?utm_source=x">Book</a>'
                '<a href="__cmN_unsubscribe_url__">Unsubscribe</a>'
                '<a href="https://clinic.example/unsubscribe?list=1">Leave</a>',
            }
        ],
        "categories": ["spring", "x1"],
    }


def test_validation_accepts_a_good_body_and_names_bad_fields() -> None:
    assert validation_errors(_body("a@example.com")) == []
    errors = validation_errors(_body("a@example.com", "b@localhost"))
    assert [error["field"] for error in errors] == ["personalizations.1.to.0.email"]
    missing = validation_errors({"personalizations": [{"to": [{"email": "a@example.com"}]}]})
    assert missing and "from" in missing[0]["message"]
    no_content = _body("a@example.com")
    del no_content["content"]
    assert [error["field"] for error in validation_errors(no_content)] == ["content"]


def test_plain_mode_makes_processed_and_delivered_only() -> None:
    events = request_events(
        _body("a@example.com", "b@example.com"),
        "MSGID",
        demo=False,
        rng=random.Random(1),
        rates=DemoRates(),
        booking_url=None,
    )
    assert [(e["event"], e["send_id"], e["email"]) for e in events] == [
        ("processed", "1", "a@example.com"),
        ("delivered", "1", "a@example.com"),
        ("processed", "2", "b@example.com"),
        ("delivered", "2", "b@example.com"),
    ]
    assert all(SIMULATED_FIELD not in event for event in events)
    assert events[0]["sg_message_id"] == "MSGID.local.0" and events[0]["category"] == [
        "spring",
        "x1",
    ]
    assert len({event["sg_event_id"] for event in events}) == 4


def test_demo_clicks_never_hit_the_unsubscribe_link() -> None:
    rates = DemoRates(
        bounce=0,
        open=1,
        machine_open_share=0,
        click=1,
        booking_click_share=0,
        unsubscribe=0,
        spamreport=0,
    )
    events = request_events(
        _body(*[f"p{n}@example.com" for n in range(20)]),
        "M",
        demo=True,
        rng=random.Random(3),
        rates=rates,
        booking_url="https://clinic.example/book",
    )
    clicks = [event for event in events if event["event"] == "click"]
    assert len(clicks) == 20
    assert {event["url"] for event in clicks} == {"https://clinic.example/book?utm_source=x"}
    assert all(event[SIMULATED_FIELD] is True for event in clicks)


def test_the_same_seed_gives_the_same_demo() -> None:
    def names(seed: int) -> list[str]:
        body = _body(*[f"p{n}@example.com" for n in range(50)])
        return [
            e["event"]
            for e in request_events(
                body, "M", demo=True, rng=random.Random(seed), rates=DemoRates(), booking_url=None
            )
        ]

    assert names(5) == names(5)
    assert {"open", "delivered", "processed"} <= set(names(5))


def test_a_seed_gives_each_address_its_fate_whatever_order_requests_arrive_in() -> None:
    addresses = [f"p{n}@example.com" for n in range(60)]

    def fates(order: list[str], seed: int) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {address: [] for address in order}
        # A shared generator drawn from before: the seed alone must decide.
        drawn_before = random.Random(99)
        for address in order:
            for event in request_events(
                _body(address),
                "M",
                demo=True,
                rng=drawn_before,
                rates=DemoRates(),
                booking_url=None,
                seed=seed,
            ):
                found[address].append(event["event"])
        return found

    forward = fates(addresses, seed=7)
    assert fates(list(reversed(addresses)), seed=7) == forward
    assert fates(addresses, seed=8) != forward
    assert {"bounce", "open"} <= {name for names in forward.values() for name in names}


def test_signatures_verify_with_the_tracking_check() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    body = b'[{"event":"processed"}]\r\n'
    signature = sign_webhook(key, "1800000000", body)
    assert verify_webhook(public_key_b64(key), signature, "1800000000", body, 60, now=NOW)
    assert not verify_webhook(
        public_key_b64(key), signature, "1800000000", body + b" ", 60, now=NOW
    )


def test_request_text_hands_the_library_orjsons_bytes_and_prints_as_its_size(caplog) -> None:
    """python_http_client encodes the body itself and formats it into a debug message on every
    request: the encoded body must be exactly the JSON, and formatting it must not copy it."""
    body = {"personalizations": [{"to": [{"email": "ann@example.com"}]}], "subject": "Café"}
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text = _RequestText(encoded)
    assert json.loads(text) == body
    assert text.encode("utf-8") == encoded and text.encode() == encoded
    assert text.encode("utf-16") == str(text).encode("utf-16")
    assert "PAYLOAD: {data}".format(data=text.encode("utf-8")) == (
        f"PAYLOAD: <{len(encoded):,} bytes of JSON>"
    )
    with caplog.at_level(logging.DEBUG, logger="python_http_client.client"):
        logging.getLogger("python_http_client.client").debug("%r", text.encode())
    assert "Café" not in caplog.text
