"""Tracking primitives: signed tokens for unsubscribe, preferences and view-online links, and the
SendGrid Event Webhook's signature check and event parsing. Pure functions, no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from sendgrid.helpers.eventwebhook import EventWebhook

from pipeline.errors import BadToken, ConfigError, InputError
from pipeline.models import Event

TokenPurpose = Literal["unsubscribe", "preferences", "view"]
TOKEN_PURPOSES: tuple[str, ...] = ("unsubscribe", "preferences", "view")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# The local SendGrid-compatible server sets this field on every event it makes up, so simulated
# opens and clicks never pass for real ones in the owner's figures.
SIMULATED_FIELD = "clinicmail_simulated"
# Where the send id travels: in custom_args, which SendGrid flattens into each event.
SEND_ID_FIELD = "send_id"

# What make_token produces: the payload's fields ("contact.send.hash") in URL-safe base64, a dot,
# and 24 characters of URL-safe base64 signature. The payload always starts with a digit or a
# minus sign, so its base64 starts with a letter: a token never starts with "." or "-".
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{4,200}\.[A-Za-z0-9_-]{24}")
# A signature is 18 bytes (144 bits), which base64 writes as exactly 24 characters, so the three
# purposes' signatures of one payload are three slices of one base64 string.
_SIGNATURE_BYTES = 18
_SIGNATURE_CHARS = 24
_PURPOSE_INDEX = {purpose: index for index, purpose in enumerate(TOKEN_PURPOSES)}
_HEX_DIGITS = frozenset("0123456789abcdef")
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
_PAYLOAD_KEYS = frozenset({"c", "s", "h"})

# The events SendGrid posts (Event Webhook reference); any other name is not one of its events.
EVENT_NAMES = frozenset(
    {
        "processed",
        "dropped",
        "delivered",
        "deferred",
        "bounce",
        "open",
        "click",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    }
)
# Send ids are the sends table's integer key: anything past it cannot be one of ours, and would
# overflow the column on PostgreSQL.
MAX_SEND_ID = 2**31 - 1
# SendGrid's events are flat objects with custom_args one level down; deeper is not SendGrid.
MAX_EVENT_DEPTH = 8

# Timestamps past this are milliseconds (Single Sends report them so), not seconds.
_MILLISECONDS_THRESHOLD = 100_000_000_000


@lru_cache(maxsize=16)
def _links_key(secret: str) -> bytes:
    """The key of the links' signatures, derived from the clinic's secret (HMAC-SHA256 with a
    label of its own, so no other use of the secret yields it)."""
    return hmac.digest(secret.encode("utf-8"), b"clinicmail.token.links", "sha256")


def _signatures(secret: str, body: bytes) -> str:
    """The three purposes' signatures of `body`, one after the other in TOKEN_PURPOSES' order:
    keyed BLAKE2b (RFC 7693, a MAC) of 54 bytes, cut into 18 bytes a purpose.

    Each purpose checks only its own slice, and the slices of a keyed hash are independent of
    each other: holding a view link's signature tells nothing of the same payload's unsubscribe
    signature, so a shared view-online link cannot unsubscribe anyone. One hash for the three
    links is what makes signing cheap enough for every recipient of a large campaign."""
    digest = hashlib.blake2b(
        body, key=_links_key(secret), digest_size=_SIGNATURE_BYTES * len(TOKEN_PURPOSES)
    ).digest()
    return _base64url(digest).decode("ascii")


def _base64url(data: bytes) -> bytes:
    """URL-safe base64 without padding (binascii directly: this runs three times per recipient)."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _payload_body(contact_id: Any, send_id: Any, hash_prefix: Any) -> bytes:
    """The encoded payload ("contact.send.hash" in URL-safe base64), checked."""
    if (
        type(contact_id) is not int
        or not (send_id is None or type(send_id) is int)
        or type(hash_prefix) is not str
        or not _HEX_DIGITS.issuperset(hash_prefix)
    ):
        raise ValueError("a token payload is c (int), s (int, optional), h (hex)")
    fields = f"{contact_id}.{'' if send_id is None else send_id}.{hash_prefix}"
    return _base64url(fields.encode("ascii"))


def link_payload(contact_id: int, send_id: int | None, email_hash: str) -> dict[str, Any]:
    """The payload clinicmail puts in a recipient's links: ids and 12 hex digits of the address's
    hash (so a token for a re-used contact id cannot act on a different address); never the
    address or a segment name."""
    payload: dict[str, Any] = {"c": contact_id, "h": email_hash[:12]}
    if send_id is not None:
        payload["s"] = send_id
    return payload


def make_token(secret: str, purpose: TokenPurpose, payload: Mapping[str, Any]) -> str:
    """A URL-safe, signed (144 bits), never-expiring token carrying a link payload: `c` (contact
    id, int), optionally `s` (send id, int) and `h` (lower-case hex digits)."""
    _require_purpose(purpose)
    if not _PAYLOAD_KEYS.issuperset(payload):
        raise ValueError(f"a token payload is c (int), s (int, optional), h (hex), not {payload!r}")
    try:
        body = _payload_body(payload.get("c"), payload.get("s"), payload.get("h", ""))
    except (ValueError, TypeError):
        # TypeError: an unhashable value, which is no int or str either.
        raise ValueError(
            f"a token payload is c (int), s (int, optional), h (hex), not {payload!r}"
        ) from None
    return body.decode("ascii") + "." + _purpose_signature(secret, purpose, body)


def link_tokens(
    secret: str, contact_id: int, send_id: int | None, email_hash: str
) -> tuple[str, str, str]:
    """The unsubscribe, preferences and view tokens of one recipient's links: each exactly what
    make_token gives for link_payload(contact_id, send_id, email_hash), from one signing of the
    payload (this runs for every recipient of a campaign)."""
    body = _payload_body(contact_id, send_id, email_hash[:12])
    signatures = _signatures(secret, body)
    prefix = body.decode("ascii") + "."
    return (
        prefix + signatures[:_SIGNATURE_CHARS],
        prefix + signatures[_SIGNATURE_CHARS : 2 * _SIGNATURE_CHARS],
        prefix + signatures[2 * _SIGNATURE_CHARS :],
    )


def _require_purpose(purpose: str) -> None:
    if purpose not in _PURPOSE_INDEX:
        raise ValueError(f"unknown token purpose {purpose!r} (one of {', '.join(TOKEN_PURPOSES)})")


def _purpose_signature(secret: str, purpose: str, body: bytes) -> str:
    """`purpose`'s slice of _signatures(secret, body)."""
    start = _PURPOSE_INDEX[purpose] * _SIGNATURE_CHARS
    return _signatures(secret, body)[start : start + _SIGNATURE_CHARS]


def read_token(secret: str, purpose: TokenPurpose, token: str) -> dict[str, Any]:
    """The payload of a token made by make_token with the same secret and purpose.

    Raises BadToken when the token was altered, cut short, made for another purpose or signed
    with another key."""
    _require_purpose(purpose)
    invalid = BadToken(
        f"this {purpose} link is not valid: it was changed or cut short; "
        "open the link from your most recent email again"
    )
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        raise invalid
    body, _, signature = token.encode("ascii").partition(b".")
    expected = _purpose_signature(secret, purpose, body).encode("ascii")
    # Constant time: how much of a guessed signature matches must not show in the answer time.
    if not hmac.compare_digest(expected, signature):
        raise invalid
    try:
        fields = base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)).decode("ascii")
        contact, send, hash_prefix = fields.split(".")
        payload: dict[str, Any] = {"c": int(contact), "h": hash_prefix}
        if send:
            payload["s"] = int(send)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        # Signed with our key but not in our format: only a leaked key makes this possible.
        raise invalid from None
    if not hash_prefix:
        del payload["h"]
    return payload


def verify_webhook(
    public_key_b64: str,
    signature: str,
    timestamp: str,
    body: bytes,
    tolerance_s: int,
    *,
    now: float | None = None,
) -> bool:
    """True when `body` was signed by the holder of the Event Webhook key and its timestamp is
    within `tolerance_s` seconds of now (a replayed old batch fails).

    Raises ConfigError when the public key itself cannot be read: that is a setting to fix, not a
    forged request."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        return False
    try:
        verifier = EventWebhook(public_key_b64)
    except ValueError:
        raise ConfigError(
            "the Event Webhook public key is not a base64 ECDSA public key; copy it again from "
            "SendGrid (Settings > Mail Settings > Signed Event Webhook) into "
            "SENDGRID_WEBHOOK_PUBLIC_KEY"
        ) from None
    try:
        payload = body.decode("utf-8")
        base64.b64decode(signature, validate=True)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        return False
    try:
        return bool(verifier.verify_signature(payload, signature, timestamp))
    except ValueError:
        # A signature that decodes but is not DER-encoded ECDSA.
        return False


def parse_events(body: bytes) -> list[Event]:
    """The events in an Event Webhook POST body (a JSON array of event objects).

    Raises InputError saying what is wrong (and which event) when the body cannot be used."""
    return [parse_event(item, index) for index, item in enumerate(event_items(body))]


def event_items(body: bytes) -> list[Any]:
    """The items of an Event Webhook POST body, not yet read as events (a lone object counts as
    a batch of one). Raises InputError when the body is no JSON array."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise InputError(f"webhook body is not JSON: {error}") from None
    except RecursionError:
        raise InputError("webhook body is nested too deeply to be SendGrid events") from None
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise InputError("webhook body must be a JSON array of event objects")
    return document


def parse_event(item: Any, index: int) -> Event:
    """One item of a batch as an Event; raises InputError naming event `index` when it is not
    one."""
    where = f"webhook event {index}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: must be a JSON object, not {type(item).__name__}")
    if _too_deep(item):
        raise InputError(f"{where}: nested more than {MAX_EVENT_DEPTH} levels deep")
    name = item.get("event")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: has no 'event' name")
    if name not in EVENT_NAMES:
        raise InputError(f"{where}: {name[:40]!r} is not a SendGrid event")
    occurred_at = _occurred_at(item.get("timestamp"), where)
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id:
        # Older and Single Send payloads may lack an id; derive a stable one from the content so
        # that SendGrid re-posting the same batch is still recognised as a duplicate.
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        event_id = "derived-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    reason = item.get("reason") or (item.get("response") if name == "deferred" else None)
    return Event(
        sg_event_id=event_id,
        event=name,
        occurred_at=occurred_at,
        send_id=_send_id(item, where),
        email=_text(item.get("email")),
        url=_text(item.get("url")),
        reason=_text(reason),
        machine_open=name == "open" and _truthy(item.get("sg_machine_open")),
        simulated=_truthy(item.get(SIMULATED_FIELD)),
        bounce_type=_text(item.get("type")) if name == "bounce" else None,
        bounce_classification=_text(item.get("bounce_classification")),
        message_id=_text(item.get("sg_message_id")),
    )


def _occurred_at(value: Any, where: str) -> datetime:
    try:
        stamp = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: 'timestamp' must be a Unix time, not {value!r}") from None
    if stamp > _MILLISECONDS_THRESHOLD:
        stamp /= 1000
    try:
        return datetime.fromtimestamp(stamp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InputError(f"{where}: 'timestamp' {value!r} is out of range") from None


def _send_id(item: Mapping[str, Any], where: str) -> int | None:
    """custom_args arrive flattened into the event; older unique_args may come nested."""
    value = item.get(SEND_ID_FIELD)
    if value is None:
        for nested in ("custom_args", "unique_args"):
            args = item.get(nested)
            if isinstance(args, dict) and SEND_ID_FIELD in args:
                value = args[SEND_ID_FIELD]
                break
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        digits = value.strip()
        # Compared as text first: a string of a million digits is not worth converting.
        if len(digits) > len(str(MAX_SEND_ID)) or int(digits) > MAX_SEND_ID:
            raise InputError(f"{where}: '{SEND_ID_FIELD}' {digits[:30]} is out of range")
        value = int(digits)
    if isinstance(value, int):
        if not 1 <= value <= MAX_SEND_ID:
            raise InputError(f"{where}: '{SEND_ID_FIELD}' {str(value)[:30]} is out of range")
        return value
    # Mail sent by something else on the same SendGrid account: not one of ours.
    return None


def _too_deep(value: dict[str, Any] | list[Any], depth: int = 1) -> bool:
    """Whether lists and objects nest in `value` (at `depth`; a flat object is 1) past
    MAX_EVENT_DEPTH. Every item of every batch passes here, so a flat event costs one look at
    each of its values; the recursion stops at MAX_EVENT_DEPTH, so it cannot run away."""
    children = value.values() if isinstance(value, dict) else value
    for child in children:
        if isinstance(child, dict | list) and (
            depth >= MAX_EVENT_DEPTH or _too_deep(child, depth + 1)
        ):
            return True
    return False


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)
