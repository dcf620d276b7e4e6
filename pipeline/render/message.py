"""One recipient's message: token values, personalisation, and the MIME message itself.

`mime_bytes` is the one place a message's wire form is built; `mime_message` is its parsed view.
"""

from __future__ import annotations

import base64
import email.policy
import re
import secrets
from collections.abc import Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, formatdate, make_msgid
from functools import lru_cache
from urllib.parse import quote

from pipeline.config import Settings
from pipeline.identity import email_hash
from pipeline.models import Message, Recipient, RenderedVariant
from pipeline.render.headers import fold_unstructured
from pipeline.render.tokens import fill_html, fill_tokens
from pipeline.tracking import link_tokens

CAMPAIGN_HEADER = "X-Clinicmail-Campaign"
SEND_HEADER = "X-Clinicmail-Send-Id"
# Greeting used when a contact has no first name: "Hello there,".
NAMELESS_GREETING = "there"

_SMTP = email.policy.SMTP
_BASE64_LINE = 76
_SMTP_LINE = 998
# What urllib.parse.quote leaves as it is (its always-safe characters and "/"): a signed token
# always is, and checking costs a quarter of quoting.
_QUOTE_UNCHANGED = re.compile(r"[A-Za-z0-9_.~/-]*")


class RecipientValues:
    """Makes the raw values of recipients' tokens for one clinic: first_name and the signed
    unsubscribe, preferences and view-online links ({public_url}/u/, /p/, /v/ + token), plus
    `unsubscribe_token`, which the mailto form of List-Unsubscribe carries. The secret and the
    public URL are read once; the outbox calls it for every recipient."""

    def __init__(self, settings: Settings):
        self._secret = settings.secret_key.get_secret_value()
        base = settings.web.public_url
        self._prefixes = (f"{base}/u/", f"{base}/p/", f"{base}/v/")

    def __call__(
        self, contact_id: int, email: str, first_name: str, send_id: int | None
    ) -> dict[str, str]:
        unsubscribe, preferences, view = link_tokens(
            self._secret, contact_id, send_id, email_hash(email)
        )
        unsubscribe_prefix, preferences_prefix, view_prefix = self._prefixes
        return {
            "first_name": first_name.strip() or NAMELESS_GREETING,
            "unsubscribe_url": unsubscribe_prefix + unsubscribe,
            "preferences_url": preferences_prefix + preferences,
            "view_url": view_prefix + view,
            "unsubscribe_token": unsubscribe,
        }


def recipient_values(
    settings: Settings, contact_id: int, email: str, first_name: str, send_id: int | None
) -> dict[str, str]:
    """One recipient's token values (see RecipientValues)."""
    return RecipientValues(settings)(contact_id, email, first_name, send_id)


def list_unsubscribe_headers(settings: Settings, values: Mapping[str, str]) -> dict[str, str]:
    """List-Unsubscribe (the https link, and a mailto when clinic.toml names an unsubscribe
    mailbox; the mailto's subject carries the signed token) and the RFC 8058 one-click header."""
    addresses = [f"<{values['unsubscribe_url']}>"]
    mailbox = settings.sender.unsubscribe_mailbox
    token = values.get("unsubscribe_token")
    if mailbox and token:
        subject = "unsubscribe-" + token
        if not _QUOTE_UNCHANGED.fullmatch(subject):
            subject = quote(subject)
        addresses.append(f"<mailto:{mailbox}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(addresses),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def personalise(rendered: RenderedVariant, recipient: Recipient, settings: Settings) -> Message:
    """The variant filled in for one recipient: tokens replaced (HTML-escaped in the HTML part),
    and the headers that belong to this recipient."""
    values = recipient.values
    headers = list_unsubscribe_headers(settings, values)
    headers[CAMPAIGN_HEADER] = rendered.campaign
    headers[SEND_HEADER] = str(recipient.send_id)
    return Message(
        send_id=recipient.send_id,
        to=recipient.email,
        subject=rendered.subject,
        html=fill_html(rendered.html, rendered.html_tokens, values),
        text=fill_tokens(rendered.text, rendered.text_tokens, values),
        headers=headers,
    )


@lru_cache(maxsize=64)
def _sender_block(name: str, address: str, reply_to: str | None) -> bytes:
    lines = [_fold("From", formataddr((name, address), charset="utf-8"))]
    if reply_to:
        lines.append(_fold("Reply-To", reply_to))
    lines.append(b"MIME-Version: 1.0\r\n")
    return b"".join(lines)


@lru_cache(maxsize=1024)
def _fold(name: str, value: str) -> bytes:
    """One header line, RFC 5322-folded and RFC 2047-encoded where it needs to be."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header may not contain a line break")
    if name == "Subject":
        return fold_unstructured(name, value)
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n".encode("ascii")
    if value.isascii() and name == "List-Unsubscribe":
        # Two long addresses: one per line, folded at the comma between them.
        return f"{name}: {value.replace(', <', ',' + chr(13) + chr(10) + ' <')}\r\n".encode()
    return _SMTP.header_factory(name, value).fold(policy=_SMTP).encode("ascii")


def _part_head(content_type: str, encoding: str) -> bytes:
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii")


def _base64_part(content_type: str, body: str) -> bytes:
    encoded = base64.b64encode(body.encode("utf-8"))
    # A list, not a generator: join builds one anyway, and this is the per-message hot path.
    wrapped = b"\r\n".join(
        [encoded[start : start + _BASE64_LINE] for start in range(0, len(encoded), _BASE64_LINE)]
    )
    return _part_head(content_type, "base64") + wrapped + b"\r\n"


def _seven_bit(data: bytes) -> bytes | None:
    """`data` (ASCII, \\n line ends as Jinja and mrml write them) with CRLF line ends, or None
    when a line passes SMTP's 998 octets."""
    if b"\r" in data:
        return None
    lines = data.split(b"\n")
    if max(map(len, lines)) > _SMTP_LINE:
        return None
    return b"\r\n".join(lines) + b"\r\n"


def _text_part(body: str) -> bytes:
    if body.isascii():
        data = _seven_bit(body.encode("ascii"))
        if data is not None:
            return _part_head("text/plain", "7bit") + data
    return _base64_part("text/plain", body)


def _html_part(body: str) -> bytes:
    """The HTML as 7-bit text: characters outside ASCII become character references, which
    mean the same in HTML (the templates keep their CSS and comments ASCII) and spare each
    message a base64 pass. Lines are short already (compile.fold_long_lines); base64 remains
    for HTML whose lines could not be folded."""
    data = _seven_bit(body.encode("ascii", "xmlcharrefreplace"))
    if data is None:
        return _base64_part("text/html", body)
    return _part_head("text/html", "7bit") + data


def mime_bytes(message: Message, settings: Settings) -> bytes:
    """The message as it goes on the wire (CRLF line ends): multipart/alternative with the text
    part, then the HTML part, both UTF-8; From and Reply-To from clinic.toml, Subject, Date,
    Message-ID and the message's own headers (List-Unsubscribe, campaign and send ids)."""
    sender = settings.sender
    domain = sender.email.rpartition("@")[2]
    boundary = f"cm-{secrets.token_hex(12)}"
    head = [
        _sender_block(sender.name, sender.email, sender.reply_to),
        _fold("To", message.to),
        _fold("Subject", message.subject),
        f"Date: {formatdate(usegmt=True)}\r\n".encode("ascii"),
        f"Message-ID: {make_msgid(idstring=str(message.send_id), domain=domain)}\r\n".encode(),
    ]
    head.extend(_fold(name, value) for name, value in message.headers.items())
    head.append(
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    )
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        [
            *head,
            delimiter,
            _text_part(message.text),
            delimiter,
            _html_part(message.html),
            f"--{boundary}--\r\n".encode("ascii"),
        ]
    )


def mime_message(message: Message, settings: Settings) -> EmailMessage:
    """The complete message as an email.message.EmailMessage (for SMTP, files and previews)."""
    parsed = BytesParser(policy=email.policy.default).parsebytes(mime_bytes(message, settings))
    assert isinstance(parsed, EmailMessage)
    return parsed
