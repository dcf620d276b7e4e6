"""Unit tests for pipeline.tracking: link tokens, the Signed Event Webhook check (the shared
SendGrid test vector) and parsing every documented Event Webhook example."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import BadToken, ConfigError, InputError
from pipeline.tracking import (
    TOKEN_PURPOSES,
    link_payload,
    link_tokens,
    make_token,
    parse_events,
    read_token,
    verify_webhook,
)

SENDGRID_DATA = Path(__file__).resolve().parent.parent / "fixtures" / "sendgrid"
VECTOR = json.loads((SENDGRID_DATA / "event_webhook_signature_vector.json").read_text())
EXAMPLES = json.loads((SENDGRID_DATA / "event_examples.json").read_text())
SECRET = "unit-test-secret"


def test_token_round_trip_and_url_safe() -> None:
    payload = link_payload(42, 9001, "ab" * 32)
    token = make_token(SECRET, "unsubscribe", payload)
    assert read_token(SECRET, "unsubscribe", token) == {"c": 42, "s": 9001, "h": "abababababab"}
    assert all(character.isalnum() or character in "-_." for character in token)
    assert len(token) < 120


@pytest.mark.parametrize("send_id", [9001, None])
def test_link_tokens_are_make_tokens_three_tokens(send_id: int | None) -> None:
    """The outbox signs a recipient's three links in one call: each must be the very token
    make_token gives for that purpose, so every link already sent keeps working."""
    tokens = link_tokens(SECRET, 42, send_id, "ab" * 32)
    payload = link_payload(42, send_id, "ab" * 32)
    assert tokens == tuple(make_token(SECRET, purpose, payload) for purpose in TOKEN_PURPOSES)
    for purpose, token in zip(TOKEN_PURPOSES, tokens, strict=True):
        assert read_token(SECRET, purpose, token) == payload | {"h": "abababababab"}


def test_link_tokens_refuse_a_payload_make_token_refuses() -> None:
    with pytest.raises(ValueError):
        link_tokens(SECRET, "42", 1, "ab" * 32)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        link_tokens(SECRET, 42, 1, "not hex")


@pytest.mark.parametrize("contact_id", [0, 1, 42, 10**12, -3])
def test_tokens_start_with_a_letter_and_stay_short(contact_id: int) -> None:
    """The inbound-parse reader finds a token after "unsubscribe-" or a "+": it must never start
    with a dot or a dash."""
    token = make_token(SECRET, "unsubscribe", link_payload(contact_id, 10**9, "f" * 64))
    assert token[0].isalpha()
    assert len(token) <= 80
    assert read_token(SECRET, "unsubscribe", token)["c"] == contact_id


def test_the_signature_is_a_slice_of_a_keyed_blake2b_of_the_payload() -> None:
    token = make_token(SECRET, "preferences", {"c": 5, "s": 6, "h": "abc"})
    body, signature = token.split(".")
    key = hmac.digest(SECRET.encode(), b"clinicmail.token.links", "sha256")
    digest = hashlib.blake2b(body.encode(), key=key, digest_size=54).digest()
    assert base64.urlsafe_b64decode(signature) == digest[18:36]


# Tokens exactly as the earlier scheme (HMAC-SHA256 under a key per purpose, cut to 16 bytes)
# gave them for this secret and payload. No email carrying one can exist any more.
EARLIER_SCHEME_TOKENS = [
    (9001, "unsubscribe", "NDIuOTAwMS5hYmFiYWJhYmFiYWI.e0QF5syq6dyT7m01VUWaqw"),
    (9001, "preferences", "NDIuOTAwMS5hYmFiYWJhYmFiYWI.6wIwfxwID7Xdhz1J3flLCQ"),
    (9001, "view", "NDIuOTAwMS5hYmFiYWJhYmFiYWI.Wh7jQP-XsCjNhw1jR0_WlA"),
    (None, "unsubscribe", "NDIuLmFiYWJhYmFiYWJhYg.mnc7tNfhOO7z07rGmbOqtA"),
    (None, "preferences", "NDIuLmFiYWJhYmFiYWJhYg.ZcooxjdZknZDnD_MjX4BwA"),
    (None, "view", "NDIuLmFiYWJhYmFiYWJhYg.KQJjsFYYsUO3C8O4-Vecgw"),
]


@pytest.mark.parametrize(("send_id", "purpose", "token"), EARLIER_SCHEME_TOKENS)
def test_a_token_of_the_earlier_scheme_is_refused(
    send_id: int | None, purpose: str, token: str
) -> None:
    current = make_token(SECRET, purpose, link_payload(42, send_id, "ab" * 32))  # type: ignore[arg-type]
    assert current.split(".")[0] == token.split(".")[0]
    assert read_token(SECRET, purpose, current) == link_payload(42, send_id, "ab" * 32)  # type: ignore[arg-type]
    for any_purpose in TOKEN_PURPOSES:
        with pytest.raises(BadToken, match="not valid"):
            read_token(SECRET, any_purpose, token)


def test_tokens_of_the_current_scheme_do_not_change() -> None:
    """Links already sent must read the same for ever: the scheme may not change silently."""
    assert link_tokens(SECRET, 42, 9001, "ab" * 32) == (
        "NDIuOTAwMS5hYmFiYWJhYmFiYWI.IC-TpjkB_qB0wWDni44U1S-J",
        "NDIuOTAwMS5hYmFiYWJhYmFiYWI._-FogwDs-mUY3ny3-7pALodG",
        "NDIuOTAwMS5hYmFiYWJhYmFiYWI.-N8fgFWCEHxj1v3dS80OLZLw",
    )


def test_no_other_slice_of_the_signatures_reads_as_an_unsubscribe_token() -> None:
    """The three signatures of one payload are slices of one hash: a view link's slice, or any
    other slice of it, must not read as an unsubscribe link."""
    unsubscribe, preferences, view = link_tokens(SECRET, 42, 9001, "ab" * 32)
    body = unsubscribe.split(".")[0]
    signatures = unsubscribe.split(".")[1] + preferences.split(".")[1] + view.split(".")[1]
    for start in range(1, len(signatures) - 24 + 1):
        forged = f"{body}.{signatures[start : start + 24]}"
        with pytest.raises(BadToken):
            read_token(SECRET, "unsubscribe", forged)


@pytest.mark.parametrize(
    "payload",
    [{"c": "1"}, {"c": 1, "s": "2"}, {"c": 1, "h": "a.b"}, {"c": 1, "x": 1}, {"s": 1}, {"c": True}],
)
def test_a_payload_outside_the_link_format_is_a_programming_error(payload: dict) -> None:
    with pytest.raises(ValueError, match="token payload"):
        make_token(SECRET, "unsubscribe", payload)


def _current_view_signature(body: bytes) -> bytes:
    """The view slice of the keyed BLAKE2b of `body`, as make_token signs."""
    key = hmac.digest(SECRET.encode(), b"clinicmail.token.links", "sha256")
    digest = hashlib.blake2b(body, key=key, digest_size=54).digest()
    return base64.urlsafe_b64encode(digest[36:54])


def test_a_validly_signed_token_in_another_format_is_refused() -> None:
    body = base64.urlsafe_b64encode(b"not-our-format").rstrip(b"=")
    assert read_token(SECRET, "view", make_token(SECRET, "view", {"c": 1})) == {"c": 1}
    with pytest.raises(BadToken):
        read_token(SECRET, "view", (body + b"." + _current_view_signature(body)).decode())


def test_token_carries_no_address_in_clear() -> None:
    token = make_token(SECRET, "view", link_payload(7, None, "0123456789abcdef" * 4))
    assert "@" not in token
    assert read_token(SECRET, "view", token) == {"c": 7, "h": "0123456789ab"}


@pytest.mark.parametrize(
    ("secret", "purpose"),
    [("another-secret", "unsubscribe"), (SECRET, "preferences"), (SECRET, "view")],
)
def test_token_from_another_key_or_purpose_is_refused(secret: str, purpose: str) -> None:
    token = make_token(SECRET, "unsubscribe", {"c": 1})
    with pytest.raises(BadToken, match="not valid"):
        read_token(secret, purpose, token)  # type: ignore[arg-type]


def test_tampered_and_truncated_tokens_are_refused() -> None:
    token = make_token(SECRET, "unsubscribe", {"c": 1, "s": 2})
    forged = make_token("guess", "unsubscribe", {"c": 2, "s": 2})
    tampered = forged.split(".")[0] + "." + token.split(".")[1]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    bad_tokens = (tampered, flipped, token[:-3], "", "not-a-token", token + "é", token + "\n")
    for bad in (*bad_tokens, "." + token, token + ".x", "a." * 600, "a" * 30 + "." + "b" * 22):
        with pytest.raises(BadToken):
            read_token(SECRET, "unsubscribe", bad)


def test_unknown_purpose_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown token purpose"):
        make_token(SECRET, "login", {"c": 1})  # type: ignore[arg-type]


def _vector_args(case: dict) -> tuple[str, str, str, bytes]:
    valid = VECTOR["valid"]
    return (
        case.get("public_key_base64_der_spki", VECTOR["public_key_base64_der_spki"]),
        case.get("signature", valid["signature"]),
        case.get("timestamp", valid["timestamp"]),
        case.get("payload", valid["payload"]).encode("utf-8"),
    )


def test_shared_vector_verifies() -> None:
    key, signature, timestamp, body = _vector_args({})
    assert verify_webhook(key, signature, timestamp, body, 300, now=int(timestamp) + 10)


@pytest.mark.parametrize("case", VECTOR["invalid_cases"], ids=lambda case: case["why"])
def test_shared_vector_negative_cases_fail(case: dict) -> None:
    key, signature, timestamp, body = _vector_args(case)
    now = int(VECTOR["valid"]["timestamp"]) + 10
    assert verify_webhook(key, signature, timestamp, body, 300, now=now) is case["expected"]


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_stale_or_future_timestamps_fail(offset: int) -> None:
    key, signature, timestamp, body = _vector_args({})
    assert not verify_webhook(key, signature, timestamp, body, 300, now=int(timestamp) + offset)


def test_garbage_signature_fails_without_raising() -> None:
    key, _, timestamp, body = _vector_args({})
    now = int(timestamp)
    assert not verify_webhook(key, "%%%not base64", timestamp, body, 300, now=now)
    assert not verify_webhook(key, "bm90IGRlcg==", timestamp, body, 300, now=now)


def test_unreadable_public_key_is_a_config_error() -> None:
    _, signature, timestamp, body = _vector_args({})
    with pytest.raises(ConfigError, match="SENDGRID_WEBHOOK_PUBLIC_KEY"):
        verify_webhook("not-a-key", signature, timestamp, body, 300, now=int(timestamp))


def _all_examples() -> list[dict]:
    events = list(EXAMPLES["all_event_types_example_post"])
    events += EXAMPLES["per_event_examples"].values()
    for key, value in EXAMPLES.items():
        if key.endswith("_example") or key.endswith("_resulting_event"):
            events += value
    return events


@pytest.mark.parametrize("example", _all_examples(), ids=lambda item: item.get("event", "?"))
def test_every_documented_example_parses(example: dict) -> None:
    [event] = parse_events(json.dumps([example]).encode())
    assert event.event == example["event"]
    assert event.email == example["email"]
    assert event.occurred_at.tzinfo is UTC
    assert event.sg_event_id
    assert not event.simulated


def test_every_documented_event_type_is_covered() -> None:
    names = {event.event for event in parse_events(json.dumps(_all_examples()).encode())}
    assert names == set(EXAMPLES["event_types_documented"])


def test_bounce_fields_and_blocked_type() -> None:
    bounce = dict(EXAMPLES["per_event_examples"]["bounce:blocked"])
    bounce["bounce_classification"] = "Reputation"
    [event] = parse_events(json.dumps([bounce]).encode())
    assert (event.bounce_type, event.bounce_classification) == ("blocked", "Reputation")
    assert event.reason == "500 unknown recipient"
    [hard] = parse_events(json.dumps([EXAMPLES["per_event_examples"]["bounce:bounce"]]).encode())
    assert hard.bounce_type == "bounce"


def test_deferred_reason_is_the_response() -> None:
    [event] = parse_events(json.dumps([EXAMPLES["per_event_examples"]["deferred"]]).encode())
    assert event.reason == "400 try again later"


def test_open_click_and_send_id_from_custom_args() -> None:
    base = EXAMPLES["per_event_examples"]
    body = [
        {**base["open"], "send_id": "123", "sg_machine_open": True},
        {**base["click"], "send_id": 124, "url": "https://clinic.example/book"},
        {**base["delivered"], "custom_args": {"send_id": "125"}},
        {**base["processed"], "send_id": "not-ours"},
        {**base["processed"]},
    ]
    opened, clicked, delivered, foreign, bare = parse_events(json.dumps(body).encode())
    assert (opened.send_id, opened.machine_open) == (123, True)
    assert (clicked.send_id, clicked.url) == (124, "https://clinic.example/book")
    assert delivered.send_id == 125
    assert foreign.send_id is None and bare.send_id is None
    assert delivered.message_id == base["delivered"]["sg_message_id"]


def test_simulated_mark_and_millisecond_timestamps() -> None:
    [event] = parse_events(json.dumps(EXAMPLES["single_send_open_example"]).encode())
    assert event.occurred_at == datetime.fromtimestamp(1591726752.372, tz=UTC)
    body = [{**EXAMPLES["per_event_examples"]["open"], "clinicmail_simulated": True}]
    assert parse_events(json.dumps(body).encode())[0].simulated


def test_derived_event_ids_are_stable() -> None:
    body = json.dumps(EXAMPLES["category_as_array_example"]).encode()
    first = [event.sg_event_id for event in parse_events(body)]
    assert first == [event.sg_event_id for event in parse_events(body)]
    assert len(set(first)) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[{", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'"hello"', "JSON array"),
        (b"[1]", "event 0: must be a JSON object"),
        (b'[{"timestamp": 1}]', "event 0: has no 'event'"),
        (b'[{"event": "open", "timestamp": "soon"}]', "'timestamp' must be a Unix time"),
    ],
)
def test_malformed_bodies_raise_input_errors(body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_events(body)
