"""Whole messages that are not campaign sends (the owner's weekly report): an EmailMessage built
elsewhere, with inline images, turned into a SendGrid request or sent as it is."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from sendgrid.helpers.mail import (
    Attachment,
    ClickTracking,
    Content,
    ContentId,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Mail,
    OpenTracking,
    Personalization,
    ReplyTo,
    SubscriptionTracking,
    To,
    TrackingSettings,
)

from pipeline.errors import DeliveryError
from pipeline.models import SendResult


def recipients_of(message: EmailMessage) -> list[str]:
    addresses = [address for _, address in getaddresses(message.get_all("To", []))]
    addresses = [address for address in addresses if address]
    if not addresses:
        raise DeliveryError("the message has no To address")
    return addresses


def message_request_body(message: EmailMessage) -> dict[str, Any]:
    """The /v3/mail/send body for `message`: its sender, recipients, subject, text and HTML
    parts, and every other part as an attachment (inline, by Content-ID, when it has one)."""
    name, sender = parseaddr(str(message["From"] or ""))
    if not sender:
        raise DeliveryError("the message has no From address")
    mail = Mail(from_email=From(sender, name or None))
    mail.subject = str(message["Subject"] or "")
    if message["Reply-To"]:
        mail.reply_to = ReplyTo(parseaddr(str(message["Reply-To"]))[1])
    personalization = Personalization()
    for address in recipients_of(message):
        to = To()
        to.email = address
        personalization.add_to(to)
    mail.add_personalization(personalization)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    if text is None and html is None:
        raise DeliveryError("the message has neither a text nor an HTML part")
    if text is not None:
        mail.add_content(Content("text/plain", text.get_content()))
    if html is not None:
        mail.add_content(Content("text/html", html.get_content()))
    for part in message.walk():
        if part.is_multipart() or part in (text, html):
            continue
        mail.add_attachment(_attachment(part))
    # A message to staff: no tracking pixels or rewritten links, no SendGrid footer.
    mail.tracking_settings = TrackingSettings(
        click_tracking=ClickTracking(enable=False, enable_text=False),
        open_tracking=OpenTracking(enable=False),
        subscription_tracking=SubscriptionTracking(enable=False),
    )
    document: dict[str, Any] = mail.get()
    return document


def _attachment(part: EmailMessage) -> Attachment:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(part.get_content()).encode("utf-8")
    content_id = str(part["Content-ID"] or "").strip().strip("<>")
    attachment = Attachment(
        FileContent(base64.b64encode(data).decode("ascii")),
        FileName(part.get_filename() or (content_id or "attachment")),
        FileType(part.get_content_type()),
        Disposition("inline" if content_id else "attachment"),
    )
    if content_id:
        attachment.content_id = ContentId(content_id)
    return attachment


def require_sent(result: SendResult, message: EmailMessage, backend: str) -> str | None:
    """The provider's message id, or a DeliveryError saying why the message was not accepted."""
    if result.outcome == "sent":
        return result.provider_message_id
    to = ", ".join(recipients_of(message))
    raise DeliveryError(
        f"the message to {to} was not accepted by the {backend} backend "
        f"({result.outcome}): {result.reason or 'no reason given'}"
    )
