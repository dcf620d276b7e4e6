"""Pure rules of tracking: which events count as what, booking clicks, suppression reasons, odd
items in a batch, finding the token in a mailto unsubscribe, and the public pages' helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.errors import InputError
from pipeline.models import Event
from pipeline.store.events import _suppression_reason, booking_click, engagement_kinds
from pipeline.tracking import link_payload, make_token
from pipeline.web.public import masked_email, months_later
from pipeline.web.webhooks import find_unsubscribe_token, parse_batch

BOOKING = "https://harbourside-clinic.example/book"
SETTINGS = Settings.model_validate(
    {
        "workspace": Path("/nonexistent"),
        "clinic": {
            "name": "Harbourside",
            "postal_address": "14 Quay Street, Bristol",
            "timezone": "Europe/London",
            "website": "https://harbourside-clinic.example",
            "booking_url": BOOKING,
        },
        "sender": {
            "name": "Harbourside",
            "email": "news@harbourside-clinic.example",
            "unsubscribe_mailbox": "unsubscribe@mail.harbourside-clinic.example",
        },
        "database_url": "sqlite://",
        "secret_key": "unit-secret",
    }
)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(name: str, **fields) -> Event:
    return Event(sg_event_id="e", event=name, occurred_at=NOW, send_id=1, **fields)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (BOOKING, True),
        (BOOKING + "/", True),
        (BOOKING + "?utm_source=clinicmail&utm_medium=email&utm_campaign=spring", True),
        ("https://HARBOURSIDE-clinic.example/book?utm_content=s1a7", True),
        (BOOKING + "?service=massage", False),
        ("https://harbourside-clinic.example/booking", False),
        ("https://elsewhere.example/book", False),
        (None, False),
    ],
)
def test_booking_clicks_ignore_utm_parameters_only(url, expected):
    assert booking_click(url, BOOKING) is expected


def test_a_booking_url_with_its_own_query_must_match_it():
    booking = "https://clinic.example/book?location=quay"
    assert booking_click("https://clinic.example/book?utm_source=x&location=quay", booking)
    assert not booking_click("https://clinic.example/book?location=harbour", booking)


@pytest.mark.parametrize(
    ("event", "kinds"),
    [
        (_event("open"), ("opens",)),
        (_event("open", machine_open=True), ("machine_opens",)),
        (_event("click", url=BOOKING), ("clicks", "booking_clicks")),
        (_event("click", url="https://x.example"), ("clicks",)),
        (_event("spamreport"), ("complaints",)),
        (_event("group_unsubscribe"), ("unsubscribes",)),
        (_event("bounce"), ("bounced",)),
        (_event("deferred"), ()),
        (_event("group_resubscribe"), ()),
    ],
)
def test_what_each_event_counts_towards(event, kinds):
    assert engagement_kinds(event, BOOKING) == kinds


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_event("bounce", bounce_type="bounce"), "bounce"),
        (_event("bounce"), "bounce"),
        (_event("bounce", bounce_type="blocked"), None),
        (_event("dropped", reason="Invalid"), "invalid"),
        (_event("dropped", reason="Bounced Address"), "bounce"),
        (_event("dropped", reason="Unsubscribed Address"), "unsubscribe"),
        (_event("dropped", reason="Spam Reporting Address"), "complaint"),
        (_event("dropped", reason="Spam Content"), None),
        (_event("spamreport"), "complaint"),
        (_event("unsubscribe"), "unsubscribe"),
        (_event("delivered"), None),
    ],
)
def test_which_events_suppress_the_address(event, reason):
    assert _suppression_reason(event) == reason


def test_an_odd_item_does_not_sink_the_batch():
    body = json.dumps(
        [
            {"event": "delivered", "timestamp": 1700000000, "sg_event_id": "a", "send_id": "4"},
            {"userid": "1123"},
            "not an object",
        ]
    ).encode()
    events, skipped = parse_batch(body)
    assert [(event.sg_event_id, event.send_id) for event in events] == [("a", 4)]
    assert skipped == [
        "webhook event 1: has no 'event' name",
        "webhook event 2: must be a JSON object, not str",
    ]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"send_id": "99999999999999999999999999"}, "'send_id' 999999999999999999999999"),
        ({"send_id": 2**31}, "'send_id' 2147483648 is out of range"),
        ({"send_id": -3}, "'send_id' -3 is out of range"),
        ({"send_id": None, "custom_args": {"send_id": 10**40}}, "is out of range"),
        ({"event": "exploded"}, "'exploded' is not a SendGrid event"),
        ({"note": [[[[[[[[[["deep"]]]]]]]]]]}, "nested more than 8 levels deep"),
    ],
)
def test_an_unusable_item_is_skipped_with_its_reason(item, reason):
    good = {"event": "delivered", "timestamp": 1700000000, "sg_event_id": "a", "send_id": 4}
    body = json.dumps([good, {**good, "sg_event_id": "b", **item}]).encode()
    events, skipped = parse_batch(body)
    assert [event.sg_event_id for event in events] == ["a"]
    assert len(skipped) == 1
    assert skipped[0].startswith("webhook event 1: ")
    assert reason in skipped[0]


@pytest.mark.timeout(30)
def test_a_batch_nested_5000_deep_is_an_input_error():
    with pytest.raises(InputError, match="nested too deeply"):
        parse_batch(b"[" * 5000 + b"]" * 5000)


@pytest.mark.parametrize("body", [b"[{", b"42", b"\xff\xfe"])
def test_a_body_that_is_no_batch_is_an_input_error(body):
    with pytest.raises(InputError):
        parse_batch(body)


def _token() -> str:
    payload = link_payload(7, 70, "ab" * 32)
    return make_token(SETTINGS.secret_key.get_secret_value(), "unsubscribe", payload)


def test_the_token_is_found_in_the_subject_as_render_writes_it():
    token = _token()
    found = find_unsubscribe_token(
        SETTINGS, "unsubscribe@mail.harbourside-clinic.example", f"unsubscribe-{token}"
    )
    assert found == token


def test_a_token_with_a_dash_in_it_is_found_whole_in_the_subject():
    tokens = (
        make_token(
            SETTINGS.secret_key.get_secret_value(), "unsubscribe", link_payload(1, send, "ab" * 32)
        )
        for send in range(70, 170)
    )
    token = next(token for token in tokens if "-" in token.split(".")[1][1:])
    found = find_unsubscribe_token(
        SETTINGS, "unsubscribe@mail.harbourside-clinic.example", f"Re: unsubscribe-{token}."
    )
    assert found == token


def test_the_token_is_found_after_a_plus_in_the_address():
    token = _token()
    to = f'"Unsubscribe" <Unsubscribe+{token}@Mail.Harbourside-Clinic.example>'
    assert find_unsubscribe_token(SETTINGS, to, "Unsubscribe") == token


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("hello@harbourside-clinic.example", "unsubscribe-{token}"),
        ("unsubscribe@mail.harbourside-clinic.example", "unsubscribe me"),
        ("unsubscribe@mail.harbourside-clinic.example", "unsubscribe-{other}"),
    ],
)
def test_anything_else_yields_no_token(to, subject):
    other = make_token("another-secret", "unsubscribe", link_payload(7, 70, "ab" * 32))
    assert find_unsubscribe_token(SETTINGS, to, subject.format(token=_token(), other=other)) is None


def test_without_an_unsubscribe_mailbox_nothing_is_read():
    settings = SETTINGS.model_copy(
        update={"sender": SETTINGS.sender.model_copy(update={"unsubscribe_mailbox": None})}
    )
    assert find_unsubscribe_token(settings, "x@y.example", f"unsubscribe-{_token()}") is None


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("ana.lopez@example.com", "a••••••@example.com"),
        ("jo@example.com", "j•@example.com"),
        ("x@example.com", "x•@example.com"),
    ],
)
def test_masked_email(email, masked):
    assert masked_email(email) == masked


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # 30 November 2026, 10:00 GMT -> 28 February 2027 (no 30th), still 10:00 GMT.
        (datetime(2026, 11, 30, 10, 0, tzinfo=UTC), datetime(2027, 2, 28, 10, 0, tzinfo=UTC)),
        # 1 March 2026, 12:00 GMT -> 1 June 2026, 12:00 BST (11:00 UTC): same wall-clock time.
        (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), datetime(2026, 6, 1, 11, 0, tzinfo=UTC)),
    ],
)
def test_a_pause_lasts_three_calendar_months_in_the_clinics_time(moment, expected):
    assert months_later(moment, 3, SETTINGS) == expected
