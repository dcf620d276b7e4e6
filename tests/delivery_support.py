"""Helpers for the delivery tests: settings with delivery overrides, a rendered variant with
token placeholders in both parts, its recipients, a webhook receiver on a real local port, and
a report-like whole message."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.config import Settings, load_settings
from pipeline.models import Recipient, RenderedVariant
from pipeline.render.message import recipient_values

BOOKING_URL = "https://harbourside-clinic.example/book"


def delivery_settings(workspace: Path, **delivery: Any) -> Settings:
    settings = load_settings(workspace)
    if not delivery:
        return settings
    return settings.model_copy(update={"delivery": settings.delivery.model_copy(update=delivery)})


def rendered_variant(nonce: str = "0123456789abcdef01234567") -> RenderedVariant:
    """A variant as rendering leaves it: the same placeholders in the HTML and text parts."""
    tokens = {
        name: f"__cm{nonce}_{name}__"
        for name in ("first_name", "unsubscribe_url", "preferences_url", "view_url")
    }
    html = (
        "<html><body><p>Hello {first_name},</p>"
        '<p><a href="{booking}?utm_source=clinicmail&amp;utm_medium=email">Book a session</a> '
        '<a href="https://harbourside-clinic.example/articles/legs">Read more</a></p>'
        '<p><a href="{view_url}">View online</a> <a href="{preferences_url}">Preferences</a> '
        '<a href="{unsubscribe_url}">Unsubscribe</a></p></body></html>'
    ).format(booking=BOOKING_URL, **tokens)
    text = (
        "Hello {first_name},\n\nBook a session: {booking}\n\n"
        "View online: {view_url}\nUnsubscribe: {unsubscribe_url}\n"
    ).format(booking=BOOKING_URL, **tokens)
    return RenderedVariant(
        campaign="legs-for-back-pain",
        segment="post_op",
        segment_code="s7q2",
        subject="Why we massage your legs for back pain",
        preheader="A short read",
        html=html,
        text=text,
        html_tokens=tokens,
        text_tokens={name: value for name, value in tokens.items() if value in text},
    )


def recipients(
    settings: Settings, count: int, *, first_name: str = "Sam", start: int = 1
) -> list[Recipient]:
    people = []
    for send_id in range(start, start + count):
        email = f"client{send_id}@example.com"
        values = recipient_values(settings, send_id + 100, email, first_name, send_id)
        people.append(Recipient(send_id=send_id, email=email, values=values))
    return people


@dataclass
class ReceivedPost:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Receiver(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.posts.append(ReceivedPost(body, dict(self.headers.items())))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    posts: list[ReceivedPost]
    status: int
    lock: threading.Lock


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, list[ReceivedPost]]]:
    """A real HTTP endpoint recording every POST; yields (url, posts)."""
    server = _ReceiverServer(("127.0.0.1", 0), _Receiver)
    server.posts, server.status, server.lock = [], status, threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/sendgrid", server.posts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def report_email() -> EmailMessage:
    """A whole message like the owner's weekly report: text, HTML and an inline chart."""
    message = EmailMessage()
    message["Subject"] = "Your week at the clinic"
    message["From"] = "Harbourside Clinic <news@harbourside-clinic.example>"
    message["To"] = "owner@example.com"
    message["Message-ID"] = "<report-2026-w47@harbourside-clinic.example>"
    message.set_content("Deliveries: 120\n")
    message.add_alternative(
        '<p>Deliveries: 120</p><img src="cid:chart" alt="chart">', subtype="html"
    )
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<chart>", filename="chart.png")
    return message
