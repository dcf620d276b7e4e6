"""The SendGrid backend: one /v3/mail/send request per batch of one variant, built and sent by the
official `sendgrid` library, with per-recipient substitutions, headers and custom_args."""

from __future__ import annotations

import functools
import html
import http.client
import json
import re
import secrets
import threading
import time
import urllib.error
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    ClickTracking,
    Content,
    From,
    Mail,
    OpenTracking,
    ReplyTo,
    SubscriptionTracking,
    TrackingSettings,
)

from pipeline.config import Settings
from pipeline.contacts.normalise import is_valid_address
from pipeline.delivery.backend import SendsClaimedRowsHere
from pipeline.delivery.whole_message import message_request_body, require_sent
from pipeline.errors import DeliveryError
from pipeline.models import Outcome, Recipient, RenderedVariant, SendResult
from pipeline.render.message import list_unsubscribe_headers

# SendGrid accepts at most 1,000 personalizations in one request.
MAX_PERSONALIZATIONS = 1000
SEND_ID_ARG = "send_id"
_JSON_WITH_CHARSET = {"Content-Type": "application/json; charset=utf-8"}
# What html.escape changes: a value without any of these reads the same in both parts.
_HTML_SPECIAL = "&<>\"'"
_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)\b")


def names_needing_escape(names: Iterable[str], recipients: Sequence[Recipient]) -> frozenset[str]:
    """The token names some value of which, in this request, reads differently HTML-escaped."""
    return frozenset(
        name
        for name in names
        if _escaping_changes("".join([recipient.values.get(name, "") for recipient in recipients]))
    )


def _escaping_changes(text: str) -> bool:
    # One substring search per character: a hundredth of a regular expression's time over the
    # 80 KB of a token's values in a 1,000-recipient request.
    return any(character in text for character in _HTML_SPECIAL)


def text_with_own_placeholders(
    rendered: RenderedVariant,
    recipients: Sequence[Recipient],
    needing_escape: frozenset[str] | None = None,
) -> tuple[str, dict[str, str]]:
    """The text part for this request, and the placeholders in it that need values of their own.

    SendGrid applies one substitution map to every part, but a value must be HTML-escaped in the
    HTML part and left as it is in the text part. A token whose values in this request all read
    the same escaped (the links always, most names) uses the HTML part's placeholder, so one
    substitution serves both parts; any other gets a text placeholder made for this request.
    `needing_escape` is names_needing_escape's answer when the caller has it already."""
    if needing_escape is None:
        needing_escape = names_needing_escape(rendered.text_tokens, recipients)
    nonce = secrets.token_hex(8)
    own: dict[str, str] = {}
    text = rendered.text
    for name, placeholder in rendered.text_tokens.items():
        shared = rendered.html_tokens.get(name)
        if shared is None or name in needing_escape:
            shared = own[name] = f"__cmtext{nonce}_{name}__"
        text = text.replace(placeholder, shared)
    return text, own


def substitutions_for(
    html_tokens: Mapping[str, str],
    text_tokens: Mapping[str, str],
    recipient: Recipient,
    needing_escape: Container[str] | None = None,
) -> dict[str, str]:
    """One substitution map serving both parts: HTML placeholders get HTML-escaped values, text
    placeholders the raw ones. With `needing_escape` (names_needing_escape's answer for the
    request), only those names are escaped: for the others escaping changes nothing."""
    values = recipient.values
    try:
        substitutions = {
            placeholder: html.escape(values[name], quote=True)
            if needing_escape is None or name in needing_escape
            else values[name]
            for name, placeholder in html_tokens.items()
        }
        for name, placeholder in text_tokens.items():
            substitutions[placeholder] = values[name]
    except KeyError as missing:
        part = "html" if missing.args[0] in html_tokens else "text"
        raise DeliveryError(
            f"send {recipient.send_id}: no value for the {part} token {missing.args[0]!r}; "
            "recipient values must include every token the variant uses"
        ) from None
    return substitutions


def envelope_mail(settings: Settings, rendered: RenderedVariant, text: str) -> Mail:
    """What every recipient of a request shares, built with the library's helpers: sender,
    subject, reply-to, both parts, categories and tracking settings."""
    mail = Mail(from_email=From(settings.sender.email, settings.sender.name))
    mail.subject = rendered.subject
    if settings.sender.reply_to:
        mail.reply_to = ReplyTo(settings.sender.reply_to)
    # SendGrid wants text/plain before text/html.
    mail.add_content(Content("text/plain", text))
    mail.add_content(Content("text/html", rendered.html))
    # Opens and clicks feed the owner's figures, so they are asked for rather than left to the
    # account's defaults; clinicmail's own unsubscribe link and headers replace SendGrid's footer.
    mail.tracking_settings = TrackingSettings(
        click_tracking=ClickTracking(enable=True, enable_text=False),
        open_tracking=OpenTracking(enable=True),
        subscription_tracking=SubscriptionTracking(enable=False),
    )
    # Categories are visible in SendGrid's statistics: only the campaign slug and the opaque
    # segment code, never a segment name (which may reveal a health condition).
    for category in dict.fromkeys((rendered.campaign, rendered.segment_code)):
        mail.add_category(Category(category))
    return mail


def custom_args(rendered: RenderedVariant, recipient: Recipient) -> dict[str, str]:
    # custom_args come back flattened into every webhook event: that is how an event finds its
    # send. Kept per personalization (the top level's schema type is disputed).
    return {
        SEND_ID_ARG: str(recipient.send_id),
        "campaign": rendered.campaign,
        "variant": rendered.segment_code,
    }


def personalization_document(
    settings: Settings,
    rendered: RenderedVariant,
    text_tokens: Mapping[str, str],
    recipient: Recipient,
    needing_escape: Container[str] | None = None,
) -> dict[str, Any]:
    """One recipient's personalization (to, headers, substitutions, custom_args) exactly as the
    library's `Personalization.get()` gives it, without making its eight or more helper objects
    per recipient."""
    document: dict[str, Any] = {
        "to": [{"email": recipient.email}],
        "headers": list_unsubscribe_headers(settings, recipient.values),
    }
    substitutions = substitutions_for(rendered.html_tokens, text_tokens, recipient, needing_escape)
    if substitutions:
        document["substitutions"] = substitutions
    document["custom_args"] = custom_args(rendered, recipient)
    return document


def request_body(
    settings: Settings, rendered: RenderedVariant, recipients: Sequence[Recipient]
) -> dict[str, Any]:
    """The JSON body of the /v3/mail/send request for this batch: the library builds the shared
    envelope once, and each recipient adds a personalization in the library's own shape."""
    _check_batch_size(recipients)
    needing_escape = names_needing_escape(
        rendered.html_tokens.keys() | rendered.text_tokens.keys(), recipients
    )
    text, text_tokens = text_with_own_placeholders(rendered, recipients, needing_escape)
    body = envelope_mail(settings, rendered, text).get()
    body["personalizations"] = [
        personalization_document(settings, rendered, text_tokens, recipient, needing_escape)
        for recipient in recipients
    ]
    return body


def _check_batch_size(recipients: Sequence[Recipient]) -> None:
    if len(recipients) > MAX_PERSONALIZATIONS:
        raise DeliveryError(
            f"a SendGrid request takes at most {MAX_PERSONALIZATIONS} recipients, "
            f"not {len(recipients)}"
        )


class SendGridBackend(SendsClaimedRowsHere):
    """Sends each batch as one request; one attempt per call (the outbox schedules retries).

    Safe to call from several threads: each thread keeps its own HTTP client, and at most
    `concurrency` requests are in flight at once."""

    def __init__(
        self, settings: Settings, *, api_host: str | None = None, api_key: str | None = None
    ):
        key = api_key or (
            settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else None
        )
        if not key:
            raise DeliveryError(
                "the sendgrid delivery backend needs an API key: set SENDGRID_API_KEY, or choose "
                "another [delivery] backend in clinic.toml (local, smtp or file)"
            )
        self.settings = settings
        self.api_host = (api_host or settings.delivery.api_host).rstrip("/")
        self._api_key = key
        self._timeout = settings.delivery.timeout_seconds
        self._clients = threading.local()
        self._in_flight = threading.BoundedSemaphore(settings.delivery.concurrency)

    def replica(self) -> Callable[[], SendGridBackend]:
        """A picklable call making a backend like this one (same host and key), for a sending
        process."""
        return functools.partial(
            SendGridBackend, self.settings, api_host=self.api_host, api_key=self._api_key
        )

    def _client(self) -> SendGridAPIClient:
        client = getattr(self._clients, "client", None)
        if client is None:
            client = SendGridAPIClient(api_key=self._api_key, host=self.api_host)
            client.client.timeout = self._timeout
            self._clients.client = client
        return client

    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        by_send = {
            send_id: SendResult(send_id, *outcome)
            for outcome, send_ids in self.send_batch_grouped(rendered, recipients).items()
            for send_id in send_ids
        }
        return [by_send[recipient.send_id] for recipient in recipients]

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        """send_batch's results as send ids by outcome (group_results' form), made without a
        result object per recipient: what the outbox records."""
        grouped: dict[Outcome, list[int]] = {}
        sendable = []
        for recipient in recipients:
            # Only a valid address without a display name: the library would read anything else
            # as a display name.
            if is_valid_address(recipient.email):
                sendable.append(recipient)
            else:
                # The library would read it as a display name, and SendGrid rejects the whole
                # request for one bad address: fail it here, alone.
                reason = f"{recipient.email!r} is not a single plain email address"
                grouped.setdefault(Outcome("failed", None, reason, None), []).append(
                    recipient.send_id
                )
        for start in range(0, len(sendable), MAX_PERSONALIZATIONS):
            chunk = sendable[start : start + MAX_PERSONALIZATIONS]
            body = request_body(self.settings, rendered, chunk)
            with self._in_flight:
                outcomes = self._post(body, [recipient.send_id for recipient in chunk])
            for outcome, send_ids in outcomes.items():
                grouped.setdefault(outcome, []).extend(send_ids)
        return grouped

    def _post(self, body: dict[str, Any], send_ids: list[int]) -> dict[Outcome, list[int]]:
        # Serialised here with orjson (a tenth of json's time for a 1,000-recipient body) and
        # handed to the library's HTTP client as it is: python_http_client sends a str body
        # unchanged when the Content-Type is not exactly "application/json".
        payload = _RequestText(orjson.dumps(body))
        try:
            response = self._client().client.mail.send.post(
                request_body=payload, request_headers=_JSON_WITH_CHARSET
            )
        except HTTPError as error:
            return _results_for_error(error, send_ids)
        except urllib.error.URLError as error:
            # urllib raises URLError while connecting or sending: the request never arrived.
            return {
                Outcome(
                    "retry", None, f"could not reach {self.api_host}: {error.reason}", None
                ): send_ids
            }
        except (OSError, http.client.HTTPException) as error:
            # The request was sent but no answer came back (timeout, connection dropped):
            # SendGrid may have accepted it, so it must not be re-sent blindly.
            reason = (
                f"no answer from {self.api_host} after sending: {error or type(error).__name__}"
            )
            return {Outcome("unknown", None, reason, None): send_ids}
        if 200 <= response.status_code < 300:
            return {Outcome("sent", response.headers.get("X-Message-Id"), None, None): send_ids}
        reason = f"unexpected answer {response.status_code} from {self.api_host}"
        return {Outcome("unknown", None, reason, None): send_ids}

    def send_message(self, message: EmailMessage) -> str | None:
        """Send one whole message that is no campaign send (the owner's report); the provider's
        message id. Raises DeliveryError when it was not accepted."""
        body = message_request_body(message)
        with self._in_flight:
            [(outcome, _)] = self._post(body, [0]).items()
        return require_sent(SendResult(0, *outcome), message, "sendgrid")

    def close(self) -> None:
        self._clients = threading.local()


class _SizedBytes(bytes):
    """Request bytes that print as their size. python_http_client formats the whole payload into
    a debug message on every request, whether or not debug logging is on; for a 1,000-recipient
    body that repr took longer than building the body."""

    def __str__(self) -> str:
        return f"<{len(self):,} bytes of JSON>"

    __repr__ = __str__


class _RequestText(str):
    """A JSON body as the library's client takes it (text it encodes itself), made from
    orjson's UTF-8 bytes, which its encode() gives back as they are instead of encoding anew."""

    _encoded: _SizedBytes

    def __new__(cls, encoded: bytes) -> _RequestText:
        text = super().__new__(cls, encoded.decode("utf-8"))
        text._encoded = _SizedBytes(encoded)
        return text

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        if encoding.lower().replace("-", "") == "utf8":
            return self._encoded
        return str(self).encode(encoding, errors)


def _results_for_error(error: HTTPError, send_ids: list[int]) -> dict[Outcome, list[int]]:
    status = int(error.status_code)
    headers = error.headers or {}
    messages = _error_messages(error.body)
    text = "; ".join(message for _, message in messages) or f"HTTP {status} {error.reason}"
    if status in (401, 403):
        # The account refuses everything (a wrong or revoked key, an unverified sender): failing
        # recipient after recipient would burn through the audience. Nothing was accepted.
        raise DeliveryError(
            f"SendGrid refused the request ({status}): {text}; check SENDGRID_API_KEY, its "
            "Mail Send permission, and that [sender] email is a verified sender"
        )
    if status == 429 or status >= 500:
        retry_after = retry_after_seconds(headers)
        return {
            Outcome("retry", None, f"SendGrid answered {status}: {text}", retry_after): send_ids
        }
    rejected = _rejected_personalizations(messages, len(send_ids))
    if rejected is None:
        return {Outcome("failed", None, f"SendGrid {status}: {text}", None): send_ids}
    # SendGrid rejected the whole request for some personalizations only: those fail, the others
    # go back to the outbox to be sent again without them.
    resend: Outcome = (
        "retry",
        None,
        "resend: another recipient in the same request was rejected",
        0,
    )
    grouped: dict[Outcome, list[int]] = {}
    for index, send_id in enumerate(send_ids):
        outcome = (
            Outcome("failed", None, f"SendGrid {status}: {rejected[index]}", None)
            if index in rejected
            else resend
        )
        grouped.setdefault(outcome, []).append(send_id)
    return grouped


def _error_messages(body: bytes | str | None) -> list[tuple[str | None, str]]:
    """(field, message) pairs from SendGrid's {"errors": [{"message", "field"}]} body."""
    if not body:
        return []
    try:
        document = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return [(None, text.strip()[:500])]
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return [(None, json.dumps(document)[:500])]
    pairs = []
    for item in errors:
        if isinstance(item, dict):
            field = item.get("field")
            message = str(item.get("message") or "")
            pairs.append(
                (
                    field if isinstance(field, str) else None,
                    f"{field}: {message}" if field else message,
                )
            )
    return pairs


def _rejected_personalizations(
    messages: list[tuple[str | None, str]], count: int
) -> dict[int, str] | None:
    """Personalization index -> message when every error names a personalization; else None."""
    rejected: dict[int, str] = {}
    for field, message in messages:
        match = _PERSONALIZATION_FIELD.match(field or "")
        if not match or int(match[1]) >= count:
            return None
        rejected.setdefault(int(match[1]), message)
    return rejected or None


def retry_after_seconds(
    headers: Mapping[str, str] | Any, *, now: float | None = None
) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (a Unix
    time); None when neither says."""
    current = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = str(value).strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - current)
        except (TypeError, ValueError):
            pass
    reset = headers.get("X-RateLimit-Reset")
    if reset and str(reset).strip().isdigit():
        return max(0.0, float(reset) - current)
    return None
