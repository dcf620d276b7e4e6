"""The SMTP backend against a real SMTP server (aiosmtpd on a local port): plain, STARTTLS with a
self-signed certificate and AUTH; connection reuse, refusals, and the MIME that arrives."""

from __future__ import annotations

import datetime as dt
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipeline.config import Settings
from pipeline.delivery.backends import open_backend
from pipeline.delivery.smtp import SmtpBackend, parse_smtp_url
from pipeline.errors import ConfigError, DeliveryError
from pipeline.models import Recipient
from tests.delivery_support import (
    PNG,
    delivery_settings,
    recipients,
    rendered_variant,
    report_email,
)
from tests.ports import free_port

USER, PASSWORD = "clinic", "s3cret:with@odd/chars"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    session: tuple[str, int]


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 no such user here"
        if address.startswith("busy"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if envelope.rcpt_tos[0].startswith("spam"):
            return "554 5.7.1 message rejected as spam"
        if envelope.rcpt_tos[0].startswith("vanish"):
            # The server took the message, then the connection dropped before its answer.
            server.transport.close()
        message = BytesParser(policy=email.policy.default).parsebytes(envelope.original_content)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.peer)
        )
        return "250 2.0.0 queued"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def plain_server() -> Iterator[tuple[int, RecordingHandler]]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler
    controller.stop()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, RecordingHandler, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = RecordingHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    yield controller.port, handler, cert
    controller.stop()


def _settings(workspace: Path, url: str) -> Settings:
    return delivery_settings(workspace, smtp_url=url, backend="smtp", timeout_seconds=5)


def test_a_batch_over_one_plain_session(
    workspace: Path, plain_server: tuple[int, RecordingHandler]
) -> None:
    port, handler = plain_server
    settings = _settings(workspace, f"smtp://127.0.0.1:{port}")
    backend = open_backend(settings)
    people = recipients(settings, 3, first_name="<script>alert(1)</script>")
    try:
        results = backend.send_batch(rendered_variant(), people)
    finally:
        backend.close()

    assert [r.outcome for r in results] == ["sent"] * 3
    assert len({received.session for received in handler.received}) == 1
    first = handler.received[0]
    assert first.mail_from == settings.sender.email
    assert first.rcpt_tos == [people[0].email]
    message = first.message
    assert message["To"] == people[0].email
    assert message["Subject"] == "Why we massage your legs for back pain"
    assert results[0].provider_message_id == message["Message-ID"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert people[0].values["unsubscribe_url"] in message["List-Unsubscribe"]
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in html and "<script>" not in html
    assert "Hello <script>alert(1)</script>," in text
    assert "__cm" not in html + text


def test_starttls_and_auth_with_a_self_signed_certificate(
    workspace: Path, tls_server: tuple[int, RecordingHandler, Path]
) -> None:
    port, handler, cert = tls_server
    url = f"smtp://{USER}:s3cret%3Awith%40odd%2Fchars@127.0.0.1:{port}?starttls=true&cafile={cert}"
    backend = SmtpBackend(_settings(workspace, url))
    try:
        results = backend.send_batch(rendered_variant(), recipients(backend.settings, 2))
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert len(handler.received) == 2


def test_a_wrong_password_is_a_delivery_error(
    workspace: Path, tls_server: tuple[int, RecordingHandler, Path]
) -> None:
    port, _, cert = tls_server
    url = f"smtp://{USER}:wrong@127.0.0.1:{port}?starttls=true&cafile={cert}"
    backend = SmtpBackend(_settings(workspace, url))
    with pytest.raises(DeliveryError, match="refused the login"):
        backend.send_batch(rendered_variant(), recipients(backend.settings, 1))


def test_an_untrusted_certificate_is_a_delivery_error(
    workspace: Path, tls_server: tuple[int, RecordingHandler, Path]
) -> None:
    port, _, _ = tls_server
    backend = SmtpBackend(_settings(workspace, f"smtp://127.0.0.1:{port}?starttls=true"))
    with pytest.raises(DeliveryError, match="cafile"):
        backend.send_batch(rendered_variant(), recipients(backend.settings, 1))


def test_refused_and_deferred_recipients(
    workspace: Path, plain_server: tuple[int, RecordingHandler]
) -> None:
    port, handler = plain_server
    settings = _settings(workspace, f"smtp://127.0.0.1:{port}")
    [ok] = recipients(settings, 1)
    refused = Recipient(send_id=8, email="nobody@example.com", values=ok.values)
    deferred = Recipient(send_id=9, email="busy@example.com", values=ok.values)
    backend = SmtpBackend(settings)
    try:
        results = backend.send_batch(rendered_variant(), [refused, deferred, ok])
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["failed", "retry", "sent"]
    assert "550 5.1.1 no such user here" in (results[0].reason or "")
    assert "451" in (results[1].reason or "")
    assert [received.rcpt_tos for received in handler.received] == [[ok.email]]


def test_an_unreachable_server_means_retry(workspace: Path) -> None:
    settings = _settings(workspace, f"smtp://127.0.0.1:{free_port()}")
    backend = SmtpBackend(settings)
    results = backend.send_batch(rendered_variant(), recipients(settings, 2))
    assert [r.outcome for r in results] == ["retry", "retry"]
    assert "unreachable" in (results[0].reason or "")


def test_a_connection_the_server_closed_is_reopened(
    workspace: Path, plain_server: tuple[int, RecordingHandler]
) -> None:
    port, handler = plain_server
    settings = _settings(workspace, f"smtp://127.0.0.1:{port}")
    backend = SmtpBackend(settings)
    try:
        backend.send_batch(rendered_variant(), recipients(settings, 1))
        backend._local.connection.sock.shutdown(socket.SHUT_RDWR)
        results = backend.send_batch(rendered_variant(), recipients(settings, 1, start=2))
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["sent"]
    assert len({received.session for received in handler.received}) == 2


def test_smtp_urls() -> None:
    target = parse_smtp_url("smtp://me:p%40ss@mail.example:587?starttls=true")
    assert (target.host, target.port, target.starttls, target.implicit_tls) == (
        "mail.example",
        587,
        True,
        False,
    )
    assert (target.username, target.password) == ("me", "p@ss")
    assert "p@ss" not in repr(target)
    assert parse_smtp_url("smtps://mail.example").port == 465
    assert parse_smtp_url("smtp://mail.example").port == 25
    with pytest.raises(ConfigError, match=r"me:\*\*\*@"):
        parse_smtp_url("http://me:secret@mail.example")
    with pytest.raises(ConfigError, match="unknown option 'tls'"):
        parse_smtp_url("smtp://mail.example?tls=1")


def test_the_smtp_backend_needs_a_url(workspace: Path) -> None:
    with pytest.raises(DeliveryError, match="smtp_url"):
        SmtpBackend(delivery_settings(workspace, backend="smtp"))


def test_a_refused_message_fails_and_a_lost_answer_is_unknown(
    workspace: Path, plain_server: tuple[int, RecordingHandler]
) -> None:
    port, handler = plain_server
    settings = _settings(workspace, f"smtp://127.0.0.1:{port}")
    [ok] = recipients(settings, 1)
    spam = Recipient(send_id=5, email="spam@example.com", values=ok.values)
    vanish = Recipient(send_id=6, email="vanish@example.com", values=ok.values)
    backend = SmtpBackend(settings)
    try:
        results = backend.send_batch(rendered_variant(), [spam, vanish, ok])
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["failed", "unknown", "sent"]
    assert "554 5.7.1 message rejected as spam" in (results[0].reason or "")
    assert "dropped" in (results[1].reason or "")
    # The lost answer's message did arrive: exactly why it must not be sent again blindly.
    assert [received.rcpt_tos for received in handler.received][-2:] == [
        ["vanish@example.com"],
        [ok.email],
    ]


def test_smtp_sends_the_message_as_it_is(
    workspace: Path,
    plain_server: tuple[int, RecordingHandler],
) -> None:
    port, handler = plain_server
    settings = delivery_settings(workspace, smtp_url=f"smtp://127.0.0.1:{port}", backend="smtp")
    backend = SmtpBackend(settings)
    try:
        message_id = backend.send_message(report_email())
    finally:
        backend.close()
    [received] = handler.received
    assert message_id == "<report-2026-w47@harbourside-clinic.example>"
    assert received.rcpt_tos == ["owner@example.com"]
    images = [part for part in received.message.walk() if part.get_content_type() == "image/png"]
    assert [part["Content-ID"] for part in images] == ["<chart>"]
    assert images[0].get_content() == PNG


def test_a_login_refused_mid_batch_keeps_what_was_sent(
    workspace: Path, tls_server: tuple[int, RecordingHandler, Path]
) -> None:
    port, _, cert = tls_server
    url = f"smtp://{USER}:s3cret%3Awith%40odd%2Fchars@127.0.0.1:{port}?starttls=true&cafile={cert}"
    backend = SmtpBackend(_settings(workspace, url))
    [ok] = recipients(backend.settings, 1)
    vanish = Recipient(send_id=6, email="vanish@example.com", values=ok.values)
    try:
        assert [r.outcome for r in backend.send_batch(rendered_variant(), [ok])] == ["sent"]
        # The password changes while a connection is open; the next connection is refused.
        backend.target = replace(backend.target, password="changed")
        results = backend.send_batch(rendered_variant(), [vanish, ok])
        with pytest.raises(DeliveryError, match="refused the login"):
            backend.send_batch(rendered_variant(), [ok])
    finally:
        backend.close()
    assert [r.outcome for r in results] == ["unknown", "retry"]
    assert "refused the login" in (results[1].reason or "")
